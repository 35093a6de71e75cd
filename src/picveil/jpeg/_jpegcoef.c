/*
 * _jpegcoef: read and write the quantized DCT coefficients of a JPEG with
 * libjpeg(-turbo), without decoding to pixels.
 *
 * This is the hazardous core: it checks bounds and never crashes, but it
 * applies no policy. picveil.jpeg.codec wraps it, maps its exceptions to
 * picveil.errors and decides which JPEG variants are supported.
 *
 *   read_header(data: bytes, max_pixels: int) -> Decoder
 *   Decoder.read_coefficients() -> None   (all scans; warnings are errors)
 *   Decoder.get_blocks(ci, by0, by1, bx0, bx1) -> int16 array (h, w, 8, 8)
 *   Decoder.set_blocks(ci, by0, bx0, int16 array (h, w, 8, 8)) -> None
 *   Decoder.write(progressive: bool, optimize: bool) -> bytes
 *
 * Blocks are in libjpeg's JBLOCK order, which is natural (row-major) order,
 * not zigzag. Quantization tables are natural order too.
 *
 * Every libjpeg call that may fail runs in a small helper holding its own
 * setjmp; the error handler only formats text into a C buffer, so helpers
 * can run with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

_Static_assert(sizeof(JCOEF) == 2, "JCOEF must be 16 bits");
_Static_assert(sizeof(JBLOCK) == 128, "JBLOCK must be 64 int16");

/* A progressive JPEG with thousands of scans is a known denial of service. */
#define MAX_SCANS 1000
/* Largest magnitude a quantized coefficient may have in an 8-bit Huffman
 * JPEG (AC category 10; DC may also be -1024 so differences fit 11 bits). */
#define COEF_MAX 1023
#define DC_MIN (-1024)

#define STR2(x) #x
#define STR(x) STR2(x)
#ifdef LIBJPEG_TURBO_VERSION
#define LIBJPEG_NAME "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION)
#else
#define LIBJPEG_NAME "libjpeg " STR(JPEG_LIB_VERSION)
#endif

static PyObject *JpegError;       /* libjpeg reported an error or a warning */
static PyObject *JpegUnsupported; /* subclass: a valid JPEG libjpeg cannot handle */
static PyObject *JpegTooLarge;    /* args: (width, height) */

/* ---- error handling ------------------------------------------------------ */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int code;          /* msg_code of the error, -1 for our own */
    int warnings;      /* warnings that make the coefficients untrustworthy */
    char message[JMSG_LENGTH_MAX];
    char first_warning[JMSG_LENGTH_MAX];
} ErrorManager;

static void
on_error_exit(j_common_ptr cinfo)
{
    ErrorManager *err = (ErrorManager *)cinfo->err;
    err->code = err->pub.msg_code;
    (*err->pub.format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void
on_emit_message(j_common_ptr cinfo, int msg_level)
{
    ErrorManager *err = (ErrorManager *)cinfo->err;
    if (msg_level >= 0)
        return; /* trace messages */
    err->pub.num_warnings++;
    /* An unknown JFIF revision says nothing about the coefficients, and
       extraneous bytes before a marker (common in camera files) are skipped
       by every decoder alike: neither loses coefficient data. */
    if (err->pub.msg_code == JWRN_JFIF_MAJOR || err->pub.msg_code == JWRN_EXTRANEOUS_DATA)
        return;
    if (err->warnings++ == 0)
        (*err->pub.format_message)(cinfo, err->first_warning);
}

static void
on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print to stderr */
}

static void
error_manager_init(ErrorManager *err)
{
    jpeg_std_error(&err->pub);
    err->pub.error_exit = on_error_exit;
    err->pub.emit_message = on_emit_message;
    err->pub.output_message = on_output_message;
    err->code = 0;
    err->warnings = 0;
    err->message[0] = '\0';
    err->first_warning[0] = '\0';
}

static int
is_unsupported(int code)
{
    return code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED ||
           code == JERR_ARITH_NOTIMPL || code == JERR_NOT_COMPILED;
}

static PyObject *
raise_jpeg_error(const ErrorManager *err)
{
    PyErr_SetString(is_unsupported(err->code) ? JpegUnsupported : JpegError,
                    err->message);
    return NULL;
}

static void
on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    ErrorManager *err = (ErrorManager *)cinfo->err;
    if (cinfo->is_decompressor && dinfo->input_scan_number > MAX_SCANS) {
        err->code = -1;
        snprintf(err->message, sizeof err->message,
                 "More than %d scans in a progressive JPEG", MAX_SCANS);
        longjmp(err->jump, 1);
    }
}

/* ---- growing memory destination (owned by us, freed on error too) ------- */

typedef struct {
    struct jpeg_destination_mgr pub;
    JOCTET *buffer;
    size_t capacity;
    size_t size;
} MemoryDestination;

static void
dest_init(j_compress_ptr cinfo)
{
    MemoryDestination *dest = (MemoryDestination *)cinfo->dest;
    dest->pub.next_output_byte = dest->buffer;
    dest->pub.free_in_buffer = dest->capacity;
}

static boolean
dest_empty(j_compress_ptr cinfo)
{
    MemoryDestination *dest = (MemoryDestination *)cinfo->dest;
    size_t capacity = dest->capacity * 2;
    JOCTET *buffer = realloc(dest->buffer, capacity);
    if (buffer == NULL)
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    dest->pub.next_output_byte = buffer + dest->capacity;
    dest->pub.free_in_buffer = capacity - dest->capacity;
    dest->buffer = buffer;
    dest->capacity = capacity;
    return TRUE;
}

static void
dest_term(j_compress_ptr cinfo)
{
    MemoryDestination *dest = (MemoryDestination *)cinfo->dest;
    dest->size = dest->capacity - dest->pub.free_in_buffer;
}

/* ---- Decoder ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    struct jpeg_decompress_struct dinfo;
    ErrorManager err;
    struct jpeg_progress_mgr progress;
    jvirt_barray_ptr *coefs; /* valid in STATE_COEFFICIENTS */
    int state;
    PyObject *data;          /* jpeg_mem_src does not copy: keep the bytes */
    int writers;             /* write() calls running without the GIL */
} Decoder;

static PyTypeObject DecoderType;

enum { STATE_HEADER = 0, STATE_READING = 1, STATE_COEFFICIENTS = 2, STATE_FAILED = -1 };

static void
Decoder_dealloc(Decoder *self)
{
    jpeg_destroy_decompress(&self->dinfo); /* safe on a zeroed struct */
    Py_XDECREF(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
decoder_read_header(Decoder *self, const unsigned char *buf, unsigned long len)
{
    if (setjmp(self->err.jump))
        return -1;
    jpeg_create_decompress(&self->dinfo);
    self->dinfo.progress = &self->progress;
    jpeg_mem_src(&self->dinfo, buf, len);
    jpeg_read_header(&self->dinfo, TRUE);
    return 0;
}

static int
decoder_read_coefficients(Decoder *self)
{
    if (setjmp(self->err.jump))
        return -1;
    self->coefs = jpeg_read_coefficients(&self->dinfo);
    return 0;
}

/* jpeg_copy_critical_parameters copies table slots, not the tables that the
 * scans latched; refuse a file that redefined a slot after using it. */
static int
check_quant_tables(Decoder *self)
{
    int ci;
    for (ci = 0; ci < self->dinfo.num_components; ci++) {
        jpeg_component_info *comp = &self->dinfo.comp_info[ci];
        int slot = comp->quant_tbl_no;
        JQUANT_TBL *slot_table = (slot >= 0 && slot < NUM_QUANT_TBLS)
                                     ? self->dinfo.quant_tbl_ptrs[slot] : NULL;
        if (slot_table == NULL ||
            (comp->quant_table != NULL &&
             memcmp(comp->quant_table->quantval, slot_table->quantval,
                    sizeof slot_table->quantval) != 0)) {
            PyErr_Format(JpegUnsupported,
                         "Quantization table %d is missing or redefined after use",
                         slot);
            return -1;
        }
    }
    return 0;
}

static PyObject *
jc_read_header(PyObject *module, PyObject *args)
{
    PyObject *data;
    unsigned long long max_pixels, pixels;

    (void)module;
    if (!PyArg_ParseTuple(args, "O!K:read_header", &PyBytes_Type, &data, &max_pixels))
        return NULL;
    if ((size_t)PyBytes_GET_SIZE(data) > (size_t)(unsigned long)-1) {
        PyErr_SetString(PyExc_OverflowError, "JPEG data too long");
        return NULL;
    }
    Decoder *self = (Decoder *)DecoderType.tp_alloc(&DecoderType, 0); /* zeroed */
    if (self == NULL)
        return NULL;
    self->data = Py_NewRef(data);
    error_manager_init(&self->err);
    self->dinfo.err = &self->err.pub;
    self->progress.progress_monitor = on_progress;

    if (decoder_read_header(self, (const unsigned char *)PyBytes_AS_STRING(data),
                            (unsigned long)PyBytes_GET_SIZE(data)) < 0) {
        raise_jpeg_error(&self->err);
        goto fail;
    }
    pixels = (unsigned long long)self->dinfo.image_width * self->dinfo.image_height;
    if (pixels > max_pixels) {
        PyObject *size = Py_BuildValue("(II)", self->dinfo.image_width,
                                       self->dinfo.image_height);
        if (size != NULL) {
            PyErr_SetObject(JpegTooLarge, size);
            Py_DECREF(size);
        }
        goto fail;
    }
    if (self->dinfo.data_precision != 8) {
        PyErr_Format(JpegUnsupported, "Unsupported JPEG data precision %d",
                     self->dinfo.data_precision);
        goto fail;
    }
    return (PyObject *)self;

fail:
    Py_DECREF(self);
    return NULL;
}

/* 1 if every coefficient fits an 8-bit Huffman JPEG (the encoder would
 * otherwise fail or, in SIMD code, write an undecodable file), 0 if not,
 * -1 on a libjpeg error. Runs without the GIL. */
static int
decoder_check_range(Decoder *self)
{
    int ci;
    JDIMENSION y, b;
    if (setjmp(self->err.jump))
        return -1;
    for (ci = 0; ci < self->dinfo.num_components; ci++) {
        jpeg_component_info *comp = &self->dinfo.comp_info[ci];
        for (y = 0; y < comp->height_in_blocks; y++) {
            JBLOCKARRAY rows = (*self->dinfo.mem->access_virt_barray)(
                (j_common_ptr)&self->dinfo, self->coefs[ci], y, 1, FALSE);
            const JCOEF *c = rows[0][0];
            size_t k, n = (size_t)comp->width_in_blocks * DCTSIZE2;
            int low = 0, high = 0, dc_low = 0;
            for (k = 0; k < n; k++) {
                low = c[k] < low ? c[k] : low;
                high = c[k] > high ? c[k] : high;
            }
            for (b = 0; b < comp->width_in_blocks; b++)
                dc_low = c[b * DCTSIZE2] < dc_low ? c[b * DCTSIZE2] : dc_low;
            if (high > COEF_MAX || dc_low < DC_MIN)
                return 0;
            if (low < -COEF_MAX) { /* only DC values may reach DC_MIN */
                for (k = 0; k < n; k++)
                    if (k % DCTSIZE2 != 0 && c[k] < -COEF_MAX)
                        return 0;
            }
        }
    }
    return 1;
}

static PyObject *
Decoder_read_coefficients(Decoder *self, PyObject *Py_UNUSED(ignored))
{
    int rc, in_range = 1;

    if (self->state == STATE_COEFFICIENTS)
        Py_RETURN_NONE;
    if (self->state == STATE_FAILED) {
        PyErr_SetString(JpegError, "An earlier read of this JPEG failed");
        return NULL;
    }
    if (self->state == STATE_READING) {
        PyErr_SetString(PyExc_RuntimeError, "read_coefficients() is running in another thread");
        return NULL;
    }
    self->state = STATE_READING;
    Py_BEGIN_ALLOW_THREADS
    rc = decoder_read_coefficients(self);
    if (rc == 0 && self->err.warnings == 0)
        in_range = decoder_check_range(self);
    Py_END_ALLOW_THREADS
    self->state = STATE_FAILED; /* until every check below passes */
    if (rc < 0 || in_range < 0)
        return raise_jpeg_error(&self->err);
    /* A truncated or damaged file is only a warning to libjpeg, which fills
     * the rest with zeros. Here it is an error. */
    if (self->err.warnings > 0) {
        if (self->err.warnings == 1)
            PyErr_SetString(JpegError, self->err.first_warning);
        else
            PyErr_Format(JpegError, "%s (and %d more warnings)",
                         self->err.first_warning, self->err.warnings - 1);
        return NULL;
    }
    if (!in_range) {
        PyErr_SetString(JpegError, "Corrupt JPEG data: DCT coefficient out of range");
        return NULL;
    }
    if (check_quant_tables(self) < 0)
        return NULL;
    self->state = STATE_COEFFICIENTS;
    Py_RETURN_NONE;
}

/* 0 if the coefficients have been read, else -1 with RuntimeError. */
static int
require_coefficients(Decoder *self)
{
    if (self->state != STATE_COEFFICIENTS) {
        PyErr_SetString(PyExc_RuntimeError, "read_coefficients() has not succeeded");
        return -1;
    }
    return 0;
}

/* The component ci, or NULL with ValueError if there is none. */
static jpeg_component_info *
checked_component(Decoder *self, int ci)
{
    if (ci < 0 || ci >= self->dinfo.num_components) {
        PyErr_Format(PyExc_ValueError, "component index %d out of range 0..%d",
                     ci, self->dinfo.num_components - 1);
        return NULL;
    }
    return &self->dinfo.comp_info[ci];
}

/* 0 if [by0, by1) x [bx0, bx1) lies inside the component, else -1 with ValueError. */
static int
check_rect(jpeg_component_info *comp, Py_ssize_t by0, Py_ssize_t by1,
           Py_ssize_t bx0, Py_ssize_t bx1)
{
    if (by0 < 0 || by1 < by0 || by1 > (Py_ssize_t)comp->height_in_blocks ||
        bx0 < 0 || bx1 < bx0 || bx1 > (Py_ssize_t)comp->width_in_blocks) {
        PyErr_Format(PyExc_ValueError,
                     "block rectangle rows %zd:%zd, columns %zd:%zd is outside "
                     "the component's %u x %u blocks",
                     by0, by1, bx0, bx1, comp->height_in_blocks,
                     comp->width_in_blocks);
        return -1;
    }
    return 0;
}

/* Copy rows between the virtual array and a (h, w, 8, 8) buffer. */
static int
copy_blocks(Decoder *self, int ci, JDIMENSION by0, JDIMENSION h, JDIMENSION bx0,
            JDIMENSION w, JBLOCK *buffer, boolean writable)
{
    JDIMENSION y;
    if (setjmp(self->err.jump))
        return -1;
    for (y = 0; y < h; y++) {
        JBLOCKARRAY rows = (*self->dinfo.mem->access_virt_barray)(
            (j_common_ptr)&self->dinfo, self->coefs[ci], by0 + y, 1, writable);
        if (writable)
            memcpy(rows[0] + bx0, buffer + (size_t)y * w, w * sizeof(JBLOCK));
        else
            memcpy(buffer + (size_t)y * w, rows[0] + bx0, w * sizeof(JBLOCK));
    }
    return 0;
}

static PyObject *
Decoder_get_blocks(Decoder *self, PyObject *args)
{
    int ci;
    Py_ssize_t by0, by1, bx0, bx1;
    jpeg_component_info *comp;

    if (require_coefficients(self) < 0 ||
        !PyArg_ParseTuple(args, "innnn:get_blocks", &ci, &by0, &by1, &bx0, &bx1))
        return NULL;
    if ((comp = checked_component(self, ci)) == NULL ||
        check_rect(comp, by0, by1, bx0, bx1) < 0)
        return NULL;
    npy_intp dims[4] = {by1 - by0, bx1 - bx0, DCTSIZE, DCTSIZE};
    PyObject *array = PyArray_SimpleNew(4, dims, NPY_INT16);
    if (array == NULL)
        return NULL;
    if (copy_blocks(self, ci, (JDIMENSION)by0, (JDIMENSION)dims[0],
                    (JDIMENSION)bx0, (JDIMENSION)dims[1],
                    (JBLOCK *)PyArray_DATA((PyArrayObject *)array), FALSE) < 0) {
        Py_DECREF(array);
        return raise_jpeg_error(&self->err);
    }
    return array;
}

static PyObject *
Decoder_set_blocks(Decoder *self, PyObject *args)
{
    int ci;
    Py_ssize_t by0, bx0, i, n;
    PyArrayObject *array;
    jpeg_component_info *comp;

    if (require_coefficients(self) < 0 ||
        !PyArg_ParseTuple(args, "innO!:set_blocks", &ci, &by0, &bx0,
                          &PyArray_Type, &array))
        return NULL;
    if (PyArray_TYPE(array) != NPY_INT16 || PyArray_NDIM(array) != 4 ||
        PyArray_DIM(array, 2) != DCTSIZE || PyArray_DIM(array, 3) != DCTSIZE ||
        !PyArray_IS_C_CONTIGUOUS(array) || !PyArray_ISALIGNED(array)) {
        PyErr_SetString(PyExc_TypeError,
                        "blocks must be an aligned C-contiguous int16 array of "
                        "shape (h, w, 8, 8)");
        return NULL;
    }
    npy_intp h = PyArray_DIM(array, 0), w = PyArray_DIM(array, 1);
    if ((comp = checked_component(self, ci)) == NULL ||
        check_rect(comp, by0, by0 + h, bx0, bx0 + w) < 0)
        return NULL;
    const JCOEF *values = (const JCOEF *)PyArray_DATA(array);
    for (i = 0, n = PyArray_SIZE(array); i < n; i++) {
        int low = (i % DCTSIZE2 == 0) ? DC_MIN : -COEF_MAX;
        if (values[i] < low || values[i] > COEF_MAX) {
            PyErr_Format(PyExc_ValueError,
                         "coefficient %d out of range: AC must lie in "
                         "[-1023, 1023] and DC in [-1024, 1023]",
                         (int)values[i]);
            return NULL;
        }
    }
    if (self->writers > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "set_blocks while write() runs in another thread");
        return NULL;
    }
    if (copy_blocks(self, ci, (JDIMENSION)by0, (JDIMENSION)h, (JDIMENSION)bx0,
                    (JDIMENSION)w, (JBLOCK *)values, TRUE) < 0)
        return raise_jpeg_error(&self->err);
    Py_RETURN_NONE;
}

static int
encode(Decoder *self, int progressive, int optimize, MemoryDestination *dest,
       ErrorManager *err)
{
    struct jpeg_compress_struct cinfo;

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = &err->pub;
    if (setjmp(err->jump)) {
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    dest->pub.init_destination = dest_init;
    dest->pub.empty_output_buffer = dest_empty;
    dest->pub.term_destination = dest_term;
    cinfo.dest = &dest->pub;
    /* Quantization tables, sampling factors, component ids, color space,
     * JFIF version and density. Huffman tables are rebuilt. */
    jpeg_copy_critical_parameters(&self->dinfo, &cinfo);
    cinfo.write_JFIF_header = cinfo.write_JFIF_header && self->dinfo.saw_JFIF_marker;
    if (progressive)
        jpeg_simple_progression(&cinfo);
    cinfo.optimize_coding = optimize ? TRUE : FALSE;
    jpeg_write_coefficients(&cinfo, self->coefs);
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

static PyObject *
Decoder_write(Decoder *self, PyObject *args)
{
    int progressive, optimize, rc;
    ErrorManager err;
    MemoryDestination dest;
    PyObject *result;

    if (require_coefficients(self) < 0 ||
        !PyArg_ParseTuple(args, "pp:write", &progressive, &optimize))
        return NULL;
    memset(&dest, 0, sizeof dest);
    dest.capacity = (size_t)PyBytes_GET_SIZE(self->data) + 65536;
    dest.buffer = malloc(dest.capacity);
    if (dest.buffer == NULL)
        return PyErr_NoMemory();
    error_manager_init(&err);
    self->writers++;
    Py_BEGIN_ALLOW_THREADS
    rc = encode(self, progressive, optimize, &dest, &err);
    Py_END_ALLOW_THREADS
    self->writers--;
    if (rc < 0)
        result = raise_jpeg_error(&err);
    else
        result = PyBytes_FromStringAndSize((const char *)dest.buffer,
                                           (Py_ssize_t)dest.size);
    free(dest.buffer);
    return result;
}

static PyObject *
Decoder_component(Decoder *self, PyObject *args)
{
    int ci;
    jpeg_component_info *comp;
    if (!PyArg_ParseTuple(args, "i:component", &ci) ||
        (comp = checked_component(self, ci)) == NULL)
        return NULL;
    return Py_BuildValue("(iiiiII)", comp->component_id, comp->h_samp_factor,
                         comp->v_samp_factor, comp->quant_tbl_no,
                         comp->width_in_blocks, comp->height_in_blocks);
}

static PyObject *
Decoder_quant_table(Decoder *self, PyObject *args)
{
    int ci, k;
    jpeg_component_info *comp;
    if (!PyArg_ParseTuple(args, "i:quant_table", &ci) ||
        (comp = checked_component(self, ci)) == NULL)
        return NULL;
    /* The table latched for this component when its first scan began; the
     * slot may have been redefined later in the file. */
    JQUANT_TBL *table = comp->quant_table;
    if (table == NULL && comp->quant_tbl_no >= 0 && comp->quant_tbl_no < NUM_QUANT_TBLS)
        table = self->dinfo.quant_tbl_ptrs[comp->quant_tbl_no];
    if (table == NULL) {
        PyErr_Format(JpegError, "Quantization table %d was not defined",
                     comp->quant_tbl_no);
        return NULL;
    }
    npy_intp dims[2] = {DCTSIZE, DCTSIZE};
    PyObject *array = PyArray_SimpleNew(2, dims, NPY_UINT16);
    if (array == NULL)
        return NULL;
    npy_uint16 *out = (npy_uint16 *)PyArray_DATA((PyArrayObject *)array);
    for (k = 0; k < DCTSIZE2; k++)
        out[k] = table->quantval[k];
    return array;
}

static PyMethodDef Decoder_methods[] = {
    {"read_coefficients", (PyCFunction)Decoder_read_coefficients, METH_NOARGS,
     "read_coefficients(): read all scans; JpegError on any error or corrupt-data warning"},
    {"get_blocks", (PyCFunction)Decoder_get_blocks, METH_VARARGS,
     "get_blocks(ci, by0, by1, bx0, bx1) -> new int16 array (by1-by0, bx1-bx0, 8, 8), natural order"},
    {"set_blocks", (PyCFunction)Decoder_set_blocks, METH_VARARGS,
     "set_blocks(ci, by0, bx0, blocks): write a C-contiguous int16 (h, w, 8, 8) array"},
    {"write", (PyCFunction)Decoder_write, METH_VARARGS,
     "write(progressive, optimize) -> bytes: a Huffman-coded JPEG of the coefficients"},
    {"component", (PyCFunction)Decoder_component, METH_VARARGS,
     "component(ci) -> (component_id, h_samp_factor, v_samp_factor, quant_tbl_no, "
     "width_in_blocks, height_in_blocks)"},
    {"quant_table", (PyCFunction)Decoder_quant_table, METH_VARARGS,
     "quant_table(ci) -> uint16 array (8, 8), natural order"},
    {NULL, NULL, 0, NULL},
};

/* Read-only header fields, one getter per field. */
#define FIELD_GETTER(name, convert)                                            \
    static PyObject *Decoder_get_##name(Decoder *self, void *closure)          \
    {                                                                          \
        (void)closure;                                                         \
        return convert(self->dinfo.name);                                      \
    }
#define AS_BOOL(v) PyBool_FromLong((long)(v))
FIELD_GETTER(image_width, PyLong_FromUnsignedLong)
FIELD_GETTER(image_height, PyLong_FromUnsignedLong)
FIELD_GETTER(num_components, PyLong_FromLong)
FIELD_GETTER(jpeg_color_space, PyLong_FromLong)
FIELD_GETTER(progressive_mode, AS_BOOL)
FIELD_GETTER(arith_code, AS_BOOL)
FIELD_GETTER(data_precision, PyLong_FromLong)
FIELD_GETTER(max_h_samp_factor, PyLong_FromLong)
FIELD_GETTER(max_v_samp_factor, PyLong_FromLong)
FIELD_GETTER(saw_JFIF_marker, AS_BOOL)
FIELD_GETTER(saw_Adobe_marker, AS_BOOL)
FIELD_GETTER(Adobe_transform, PyLong_FromLong)

#define GETTER(name) {#name, (getter)Decoder_get_##name, NULL, NULL, NULL}
static PyGetSetDef Decoder_getset[] = {
    GETTER(image_width), GETTER(image_height), GETTER(num_components),
    GETTER(jpeg_color_space), GETTER(progressive_mode), GETTER(arith_code),
    GETTER(data_precision), GETTER(max_h_samp_factor), GETTER(max_v_samp_factor),
    GETTER(saw_JFIF_marker), GETTER(saw_Adobe_marker), GETTER(Adobe_transform),
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "picveil.jpeg._jpegcoef.Decoder",
    .tp_doc = "The coefficients of one JPEG, created by read_header().",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
    .tp_getset = Decoder_getset,
};

/* ---- module -------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
    {"read_header", jc_read_header, METH_VARARGS,
     "read_header(data: bytes, max_pixels: int) -> Decoder\n\n"
     "Reads the header up to the first scan. Raises JpegTooLarge((width, height)) "
     "if width*height > max_pixels, JpegUnsupported for valid JPEGs libjpeg "
     "cannot read, JpegError for any other error. Call "
     "Decoder.read_coefficients() next."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "picveil.jpeg._jpegcoef",
    .m_doc = "Quantized DCT coefficient access through libjpeg (internal).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__jpegcoef(void)
{
    PyObject *m;

    import_array();
    if (PyType_Ready(&DecoderType) < 0)
        return NULL;
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    JpegError = PyErr_NewException("picveil.jpeg._jpegcoef.JpegError", NULL, NULL);
    JpegUnsupported = PyErr_NewException("picveil.jpeg._jpegcoef.JpegUnsupported",
                                         JpegError, NULL);
    JpegTooLarge = PyErr_NewException("picveil.jpeg._jpegcoef.JpegTooLarge", NULL, NULL);
    if (JpegError == NULL || JpegUnsupported == NULL || JpegTooLarge == NULL ||
        PyModule_AddObjectRef(m, "JpegError", JpegError) < 0 ||
        PyModule_AddObjectRef(m, "JpegUnsupported", JpegUnsupported) < 0 ||
        PyModule_AddObjectRef(m, "JpegTooLarge", JpegTooLarge) < 0 ||
        PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SCANS", MAX_SCANS) < 0 ||
        PyModule_AddIntConstant(m, "COEF_MAX", COEF_MAX) < 0 ||
        PyModule_AddIntConstant(m, "DC_MIN", DC_MIN) < 0 ||
        PyModule_AddStringConstant(m, "LIBJPEG_VERSION", LIBJPEG_NAME) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
