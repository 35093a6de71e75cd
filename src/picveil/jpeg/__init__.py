"""JPEG coefficient access, marker handling and metadata policy."""
