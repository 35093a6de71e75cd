"""Search over whole-image protected photos, without keys (seed 002).

A server that holds only searchable-v2 (or searchable-v1) protected JPEGs
ranks them by similarity to a protected query; one library holds one scheme. Imports are lazy: numpy-only modules load
on use, PyTorch and FAISS only when a network or an index is used (the
``search`` extra).

* ``features``: keyless, scheme-invariant features of a JPEG's coefficients;
* ``model``: the cipher-image gMLPs (tiles for searchable-v2, one bag for
  searchable-v1) and the plaintext upper-bound network;
* ``training``: triplet + cross-entropy training; weights saved with SHA-256;
* ``metrics``: mAP, Recall@K, P@K in seed 002's protocol;
* ``data``: Fashion-MNIST / MNIST as photo-like labelled JPEGs, offline;
* ``index``: the library database (SQLite catalogue + FAISS index);
* ``errors``: the subsystem's error types (children of ``PicveilError``).

What search reveals is what the scheme leaks; read
:mod:`picveil.schemes.searchable_v2` (and ``searchable_v1``) before using it.
"""
