/* inspector._native: compiled fast paths for per-member hot spots (optional; see inspector/native.py).
 *
 * Every function here recognises only a narrow, common form of its input and returns exactly what the
 * pure-Python reference computes for it; anything else makes it stop (or return None) so that the
 * Python code runs unchanged. The Python code stays the reference: tests/test_native.py compares both.
 *
 * tar_plain_run(buf, pos, fmt, kinds) -> (members, fmt) | None
 *   Reads the run of consecutive "plain" tar members whose headers start at buf[pos:], as
 *   inspector/unpack/tar.py (_member/_entry) would read them, stopping at the first header it does not
 *   read itself. A plain member is one 512-byte header (no L/K/x header before it) that:
 *     - is entirely ASCII and does not start with a NUL byte (so not an end-of-archive block);
 *     - has mode, size, mtime and checksum fields that are octal as libarchive's tar_atol8 reads them
 *       the plain way (spaces, octal digits, then spaces or NULs; tar.py's _OCTAL);
 *     - has an unsigned checksum that matches (an ASCII header's signed sum is the same);
 *     - has typeflag '0', NUL or '7' (a regular file, or a directory when its name ends in '/'),
 *       '5' (directory), '2' (symbolic link with a non-empty link name), '3'/'4' (device), '6' (FIFO);
 *     - with GNU magic, has no sparse map or real size (bytes 386 and 483 are NUL);
 *     - for a regular file, has at most `small` bytes of content, and the content and its padding
 *       entirely in buf.
 *   The ustar prefix is joined to the name as tar.py joins it. `kinds` is the tuple
 *   (FILE, SYMLINK, DEVICE, DIR, OTHER) of EntryKind members. Each member is a tuple
 *   (name, kind, size, mode, mtime, link, data, step): size None except for regular files, mode already
 *   masked to 0o7777, data the content bytes of a regular file (else None), step the bytes it takes
 *   (header, content and padding). `fmt` is the format code of the headers read so far (0 old, 1 ustar,
 *   2 gnu, 3 pax: tar.py's _Blocks.format) and the returned one that after the run.
 *   The caller must not use it for the archive's first header (libarchive's bid rule stays in Python).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define BLOCK 512

/* tar.py's _OCTAL fullmatch over h[start:end]: spaces, octal digits, then only spaces or NULs. */
static int
octal_field(const unsigned char *h, int start, int end, unsigned long long *out)
{
    int i = start;
    unsigned long long value = 0;
    while (i < end && h[i] == ' ')
        i++;
    while (i < end && h[i] >= '0' && h[i] <= '7') {
        value = (value << 3) | (unsigned long long)(h[i] - '0');
        i++;
    }
    for (; i < end; i++) {
        if (h[i] != ' ' && h[i] != 0)
            return 0;
    }
    *out = value;
    return 1;
}

static Py_ssize_t
cstring_len(const unsigned char *h, int start, int end)
{
    const unsigned char *z = memchr(h + start, 0, (size_t)(end - start));
    return z ? (Py_ssize_t)(z - (h + start)) : (Py_ssize_t)(end - start);
}

/* Kind indexes into the `kinds` tuple. */
enum { K_FILE, K_SYMLINK, K_DEVICE, K_DIR, K_OTHER };

/* Parse one plain member at h (n bytes available from h). Returns a new tuple, or NULL with no error set
 * when the member is not plain, or NULL with an error set on failure. *step and *fmt are updated. */
static PyObject *
plain_member(const unsigned char *h, Py_ssize_t n, Py_ssize_t small, PyObject *kinds, int *fmt,
             Py_ssize_t *step)
{
    unsigned long long mode, size, mtime, stored, sum = 0;
    int i, kind, gnu, ustar;
    Py_ssize_t name_len, data_size, padding, used;
    char name[256];
    Py_ssize_t link_len = 0;

    if (n < BLOCK || h[0] == 0)
        return NULL;
    for (i = 0; i < BLOCK; i++) {
        if (h[i] & 0x80)
            return NULL;
        sum += h[i];
    }
    for (i = 148; i < 156; i++)
        sum -= h[i];
    sum += 8 * ' ';
    if (!octal_field(h, 148, 156, &stored) || stored != sum)
        return NULL;
    if (!octal_field(h, 100, 108, &mode) || !octal_field(h, 124, 136, &size) || !octal_field(h, 136, 148, &mtime))
        return NULL;
    if (mode >= (1ULL << 32) || size > (unsigned long long)PY_SSIZE_T_MAX / 2)
        return NULL;
    gnu = memcmp(h + 257, "ustar  \0", 8) == 0;
    ustar = !gnu && memcmp(h + 257, "ustar", 5) == 0;
    if (gnu && (h[386] || h[483]))
        return NULL;

    name_len = cstring_len(h, 0, 100);
    if (ustar && h[345]) {
        Py_ssize_t prefix_len = cstring_len(h, 345, 500);
        memcpy(name, h + 345, (size_t)prefix_len);
        if (h[345 + prefix_len - 1] != '/')
            name[prefix_len++] = '/';
        memcpy(name + prefix_len, h, (size_t)name_len);
        name_len += prefix_len;
    } else {
        memcpy(name, h, (size_t)name_len);
    }

    data_size = 0;
    switch (h[156]) {
    case '0': case 0: case '7':
        if (name[name_len - 1] == '/') {
            kind = K_DIR;  /* a regular file named like a directory is one, without data (libarchive) */
        } else {
            kind = K_FILE;
            data_size = (Py_ssize_t)size;
            if (data_size > small)
                return NULL;
        }
        break;
    case '2':
        kind = K_SYMLINK;
        link_len = cstring_len(h, 157, 257);
        if (!link_len)
            return NULL;
        break;
    case '3': case '4':
        kind = K_DEVICE;
        break;
    case '5':
        kind = K_DIR;
        break;
    case '6':
        kind = K_OTHER;
        break;
    default:
        return NULL;
    }
    padding = (BLOCK - data_size % BLOCK) % BLOCK;
    used = BLOCK + data_size + padding;
    if (used > n)
        return NULL;

    {
        PyObject *name_obj, *size_obj, *link_obj, *data_obj, *kind_obj;
        kind_obj = PyTuple_GET_ITEM(kinds, kind);
        name_obj = PyUnicode_DecodeASCII(name, name_len, NULL);
        if (name_obj == NULL)
            return NULL;
        if (kind == K_FILE) {
            size_obj = PyLong_FromUnsignedLongLong(size);
            data_obj = PyBytes_FromStringAndSize((const char *)h + BLOCK, data_size);
        } else {
            size_obj = Py_NewRef(Py_None);
            data_obj = Py_NewRef(Py_None);
        }
        if (kind == K_SYMLINK)
            link_obj = PyUnicode_DecodeASCII((const char *)h + 157, link_len, NULL);
        else
            link_obj = Py_NewRef(Py_None);
        if (size_obj == NULL || data_obj == NULL || link_obj == NULL) {
            Py_DECREF(name_obj);
            Py_XDECREF(size_obj);
            Py_XDECREF(data_obj);
            Py_XDECREF(link_obj);
            return NULL;
        }
        *step = used;
        if (gnu)
            *fmt = 2;
        else if (ustar)
            *fmt = *fmt == 3 ? 3 : 1;
        else
            *fmt = 0;
        return Py_BuildValue("(NONKKNNn)", name_obj, kind_obj, size_obj, mode & 07777ULL, mtime, link_obj,
                             data_obj, used);
    }
}

static PyObject *
tar_plain_run(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, small;
    int fmt;
    PyObject *kinds, *members, *result;

    (void)self;
    if (!PyArg_ParseTuple(args, "y*nniO!", &view, &pos, &small, &fmt, &PyTuple_Type, &kinds))
        return NULL;
    if (PyTuple_GET_SIZE(kinds) != 5 || pos < 0 || fmt < 0 || fmt > 3) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "tar_plain_run: bad arguments");
        return NULL;
    }
    members = PyList_New(0);
    if (members == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    while (pos < view.len) {
        Py_ssize_t step = 0;
        PyObject *member = plain_member((const unsigned char *)view.buf + pos, view.len - pos, small, kinds,
                                        &fmt, &step);
        if (member == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(members);
                PyBuffer_Release(&view);
                return NULL;
            }
            break;
        }
        if (PyList_Append(members, member) < 0) {
            Py_DECREF(member);
            Py_DECREF(members);
            PyBuffer_Release(&view);
            return NULL;
        }
        Py_DECREF(member);
        pos += step;
    }
    PyBuffer_Release(&view);
    result = Py_BuildValue("(Ni)", members, fmt);
    return result;
}

static PyMethodDef native_methods[] = {
    {"tar_plain_run", tar_plain_run, METH_VARARGS,
     "tar_plain_run(buf, pos, small, fmt, kinds) -> (members, fmt): the run of plain tar members at buf[pos:] "
     "as inspector.unpack.tar reads them (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "inspector._native",
    "Compiled fast paths for inspector's per-member hot spots; inspector.native decides whether they are used.",
    -1, native_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    return PyModule_Create(&native_module);
}
