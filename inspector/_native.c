/* inspector._native: compiled fast paths for per-member hot spots (optional; see inspector/native.py).
 *
 * Every function here recognises only a narrow, common form of its input and returns exactly what the
 * pure-Python reference computes for it; anything else makes it stop (or return None) so that the
 * Python code runs unchanged. The Python code stays the reference: tests/test_native.py compares both.
 *
 * tar_plain_run(buf, pos, most, small, fmt, kinds, make) -> (items, fmt, end)
 *   Reads the run of consecutive "plain" tar members whose headers start at buf[pos:], as
 *   inspector/unpack/tar.py (_member/_entry) would read them, stopping at the first header it does not
 *   read itself or after `most` members. A plain member is one 512-byte header (no L/K/x header before it) that:
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
 *   (FILE, SYMLINK, DEVICE, DIR, OTHER) of EntryKind members. `fmt` is the format code of the headers read
 *   so far (0 old, 1 ustar, 2 gnu, 3 pax: tar.py's _Blocks.format); the one after the run is returned,
 *   with `end`, the offset in buf after the run.
 *   Each item is a tuple (name, kind, size, mode, mtime, link, data, step): the name as stored (for
 *   names.checked_member_path), size None except for regular files, mode already masked to 0o7777, data
 *   the content of a regular file (else None), step the bytes the member takes (header, content, padding).
 *   When `make` is (Member, fields, meta, opener, seen), an item whose name is plain (plain_name below:
 *   checked_member_path gives it back unchanged and reports nothing) is instead the Member tar.py makes:
 *   an instance of Member whose __dict__ holds, in the order of `fields`, name, kind, size, None, mode,
 *   mtime, link, meta, opener(data) or None, None, False, data; and its name is added to the set `seen`.
 *   The caller must not use it for the archive's first header (libarchive's bid rule stays in Python).
 *
 * text_or_data(head, magics) -> "text" | "data" | None
 *   sniff.detect_type(head) when head is not empty and starts with none of `magics` ((offset, bytes)
 *   pairs: every prefix detect_type looks for before it tells text from data): sniff._looks_text of its
 *   first 8192 bytes, with Python's own UTF-8 decoder. None otherwise: detect_type decides.
 *
 * rock_ridge(system_use, skip) -> (name, mode, nlink, uid, gid, ino, stamp, long) | None
 *   The Rock Ridge entries of one directory record as inspector/unpack/iso9660_rr.py's parse reads them, when
 *   its System Use area (from `skip`) holds only PX, NM, at most one TF and entries parse skips, ends at ST or
 *   in NUL padding, and has no CE (continuation), SL, PN, CL, PL, RE, ZF/Z2 or SF entry: the NM parts joined
 *   (or b"." / b".."; None without NM), the PX fields (None without PX; ino None without its field) and the
 *   TF entry's modification stamp, 7 or 17 bytes (`long`), for parse to convert. None for anything else.
 *
 * twins_take(entries, n, prefix, old_side, blocked, interior, mine, theirs, rest, other_rest, found,
 *            same_file, entry_of, doubt, file_kind, dir_kind, binary_key) -> int
 *   inspector.diff.twins._Side._take, step for step, on the same objects: up to n (index, row) pairs from
 *   `entries`; rows that cannot be twins go to `rest` as (index, entry_of(row)); a file waits in `mine` or
 *   meets its counterpart in `theirs` and, when same_file says so, is added to `found` (its groups, the
 *   lists beside them and its arrays). Raises `doubt` as _take raises TwinsInDoubt. Returns how many rows
 *   were read.
 *
 * plain_name(name) -> bool
 *   Whether names.checked_member_path takes `name` as it is: no "..", and names._PLAIN matches it whole.
 *
 * elf_meta(data, kind, machines[, size]) -> dict | None
 *   binaries.reader's meta of the ELF file in `data` (BinaryInfo.to_meta() of binaries.elf.read_elf), for a
 *   common form only: a section table that binaries.headers.check_elf_header accepts without extended
 *   numbering, at a non-zero e_shoff, with an ASCII section-name string table of at most 16 MiB inside the
 *   file, every sh_name inside it, at least one section that is not SHT_NULL, and every section's bytes
 *   inside the file. Anything else (and a libcrypto without SHA256) gives None: read_elf decides, and
 *   raises where it must. `kind(name, sh_type, sh_flags)` is the class rule's one home in Python
 *   (binaries.elf.section_row_kind): it gives (class index in SectionClass order, class name, flag letters,
 *   writable). `machines` maps e_machine to its name (others are spelt as their number). The code and data
 *   digests are computed with the GIL released. `data` is a buffer, or a file descriptor (an int) whose
 *   first `size` bytes are the file, read with pread (nothing is mapped); a file shorter than that gives None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>
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

/* names._PLAIN's first character, and every other one but '/'. */
static int
name_first(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+'
        || c == '@' || c == '=' || c == ',' || c == '~' || c == '%' || c == '#' || c == '-';
}

static int
name_other(unsigned char c)
{
    return name_first(c) || c == '.' || c == ' ';
}

/* Whether names.checked_member_path returns the ASCII name as it is, without a word: no "..", and
 * names._PLAIN (a first character, then segments of at least one character joined by single '/') matches
 * it whole. */
static int
plain_text(const char *name, Py_ssize_t len)
{
    Py_ssize_t i;
    int slash = 0;

    if (len == 0 || !name_first((unsigned char)name[0]))
        return 0;
    for (i = 1; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/') {
            if (slash)
                return 0;
            slash = 1;
        } else if (name_other(c)) {
            if (c == '.' && name[i - 1] == '.')
                return 0;
            slash = 0;
        } else {
            return 0;
        }
    }
    return !slash;
}

/* Member's fields (tar.py's _MEMBER_FIELDS checks their names and order). */
#define MEMBER_FIELDS 13

/* What tar.py needs to make a Member itself (the `make` argument). */
struct make {
    PyObject *cls, *fields, *meta, *opener, *seen;
};

/* The Member tar.py's _entry makes for a plain member whose name is plain (see the top of this file). */
static PyObject *
make_member(struct make *make, const char *name, Py_ssize_t name_len, PyObject *kind, int is_file,
            unsigned long long size, unsigned long long mode, unsigned long long mtime, const char *link,
            Py_ssize_t link_len, const char *data, Py_ssize_t data_size)
{
    PyObject *values[MEMBER_FIELDS] = {NULL};
    PyObject *member = NULL, *dict = NULL, *empty;
    int i, ok = 0;

    values[0] = PyUnicode_DecodeASCII(name, name_len, NULL);
    values[1] = Py_NewRef(kind);
    values[2] = is_file ? PyLong_FromUnsignedLongLong(size) : Py_NewRef(Py_None);
    values[3] = Py_NewRef(Py_None);
    values[4] = PyLong_FromUnsignedLongLong(mode);
    values[5] = PyLong_FromUnsignedLongLong(mtime);
    values[6] = link != NULL ? PyUnicode_DecodeASCII(link, link_len, NULL) : Py_NewRef(Py_None);
    values[7] = Py_NewRef(make->meta);
    values[9] = Py_NewRef(Py_None);
    values[10] = Py_NewRef(Py_False);
    values[11] = is_file ? PyBytes_FromStringAndSize(data, data_size) : Py_NewRef(Py_None);
    values[12] = Py_NewRef(Py_None);  /* content_key: a tar member's content is its own */
    if (values[11] != NULL)
        values[8] = is_file ? PyObject_CallOneArg(make->opener, values[11]) : Py_NewRef(Py_None);
    for (i = 0; i < MEMBER_FIELDS; i++) {
        if (values[i] == NULL)
            goto done;
    }
    if (PySet_Add(make->seen, values[0]) < 0)
        goto done;
    empty = PyTuple_New(0);
    if (empty == NULL)
        goto done;
    member = PyBaseObject_Type.tp_new((PyTypeObject *)make->cls, empty, NULL);  /* object.__new__(Member) */
    Py_DECREF(empty);
    if (member == NULL)
        goto done;
    /* A dict of its own, made whole and then set (not the instance's own filled key by key): CPython
     * specialises attribute reads on such a dict (4.5 ns a read, against 17 ns), and the walker reads some
     * fifteen attributes of each member. */
    dict = _PyDict_NewPresized(MEMBER_FIELDS);
    if (dict == NULL)
        goto done;
    for (i = 0; i < MEMBER_FIELDS; i++) {
        if (PyDict_SetItem(dict, PyTuple_GET_ITEM(make->fields, i), values[i]) < 0)
            goto done;
    }
    if (PyObject_GenericSetDict(member, dict, NULL) < 0)
        goto done;
    ok = 1;
done:
    for (i = 0; i < MEMBER_FIELDS; i++)
        Py_XDECREF(values[i]);
    Py_XDECREF(dict);
    if (!ok)
        Py_CLEAR(member);
    return member;
}

/* Kind indexes into the `kinds` tuple. */
enum { K_FILE, K_SYMLINK, K_DEVICE, K_DIR, K_OTHER };

/* Parse one plain member at h (n bytes available from h). Returns a new tuple or Member, or NULL with no
 * error set when the member is not plain, or NULL with an error set on failure. *step and *fmt are updated. */
static PyObject *
plain_member(const unsigned char *h, Py_ssize_t n, Py_ssize_t small, PyObject *kinds, struct make *make,
             int *fmt, Py_ssize_t *step)
{
    unsigned long long mode, size, mtime, stored, sum = 0;
    unsigned char high = 0;
    int i, kind, gnu, ustar;
    Py_ssize_t name_len, data_size, padding, used;
    char name[256];
    Py_ssize_t link_len = 0;

    if (n < BLOCK || h[0] == 0)
        return NULL;
    for (i = 0; i < BLOCK; i++) {  /* no early exit: the compiler vectorises this loop */
        high |= h[i];
        sum += h[i];
    }
    if (high & 0x80)
        return NULL;
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

    *step = used;
    if (gnu)
        *fmt = 2;
    else if (ustar)
        *fmt = *fmt == 3 ? 3 : 1;
    else
        *fmt = 0;
    if (make != NULL && plain_text(name, name_len))
        return make_member(make, name, name_len, PyTuple_GET_ITEM(kinds, kind), kind == K_FILE, size, mode & 07777ULL,
                           mtime, kind == K_SYMLINK ? (const char *)h + 157 : NULL, link_len,
                           (const char *)h + BLOCK, data_size);
    return Py_BuildValue("(NONKKNNn)", PyUnicode_DecodeASCII(name, name_len, NULL), PyTuple_GET_ITEM(kinds, kind),
                         kind == K_FILE ? PyLong_FromUnsignedLongLong(size) : Py_NewRef(Py_None), mode & 07777ULL,
                         mtime,
                         kind == K_SYMLINK ? PyUnicode_DecodeASCII((const char *)h + 157, link_len, NULL)
                                           : Py_NewRef(Py_None),
                         kind == K_FILE ? PyBytes_FromStringAndSize((const char *)h + BLOCK, data_size)
                                        : Py_NewRef(Py_None),
                         used);
}

static PyObject *
tar_plain_run(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, small, most;
    int fmt;
    PyObject *kinds, *make_arg, *items, *result;
    struct make make, *makep = NULL;

    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnniO!O", &view, &pos, &most, &small, &fmt, &PyTuple_Type, &kinds, &make_arg))
        return NULL;
    if (make_arg != Py_None) {
        if (!PyArg_ParseTuple(make_arg, "O!O!OOO!", &PyType_Type, &make.cls, &PyTuple_Type, &make.fields,
                              &make.meta, &make.opener, &PySet_Type, &make.seen)
                || PyTuple_GET_SIZE(make.fields) != MEMBER_FIELDS) {
            PyBuffer_Release(&view);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "tar_plain_run: make is (Member, its 13 fields, meta, opener, seen)");
            return NULL;
        }
        makep = &make;
    }
    if (PyTuple_GET_SIZE(kinds) != 5 || pos < 0 || fmt < 0 || fmt > 3) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "tar_plain_run: bad arguments");
        return NULL;
    }
    items = PyList_New(0);
    if (items == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    while (pos < view.len && PyList_GET_SIZE(items) < most) {
        Py_ssize_t step = 0;
        PyObject *item = plain_member((const unsigned char *)view.buf + pos, view.len - pos, small, kinds, makep,
                                      &fmt, &step);
        if (item == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(items);
                PyBuffer_Release(&view);
                return NULL;
            }
            break;
        }
        if (PyList_Append(items, item) < 0) {
            Py_DECREF(item);
            Py_DECREF(items);
            PyBuffer_Release(&view);
            return NULL;
        }
        Py_DECREF(item);
        pos += step;
    }
    PyBuffer_Release(&view);
    result = Py_BuildValue("(Nin)", items, fmt, pos);
    return result;
}

static PyObject *
plain_name(PyObject *self, PyObject *arg)
{
    Py_ssize_t len;
    const char *text;

    (void)self;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_name: a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(arg))
        Py_RETURN_FALSE;
    text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL)
        return NULL;
    return PyBool_FromLong(plain_text(text, len));
}

/* The two names text_or_data gives (made once, at import: intern_strings). */
static PyObject *TEXT, *DATA;

/* The last magics tuple text_or_data was given, read into a C table (it is the same tuple every call). */
#define MAX_MAGICS 64
static PyObject *magics_seen;
static Py_ssize_t magics_count;
static struct { Py_ssize_t offset, len; const char *bytes; } magics_table[MAX_MAGICS];

static int
read_magics(PyObject *magics)
{
    Py_ssize_t i, count = PyTuple_GET_SIZE(magics);

    if (count > MAX_MAGICS) {
        PyErr_SetString(PyExc_ValueError, "text_or_data: too many magics");
        return -1;
    }
    for (i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(magics, i);
        Py_ssize_t offset;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "text_or_data: magics are (offset, bytes) pairs");
            return -1;
        }
        offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (offset < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "text_or_data: a negative offset");
            return -1;
        }
        magics_table[i].offset = offset;
        magics_table[i].len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 1));
        magics_table[i].bytes = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1));
    }
    Py_XSETREF(magics_seen, Py_NewRef(magics));  /* keeps the bytes the table points into alive */
    magics_count = count;
    return 0;
}

/* sniff._printable and the control-byte test of sniff._looks_text, for a sample that is not UTF-8. */
static int
latin1_text(const unsigned char *h, Py_ssize_t n)
{
    Py_ssize_t i, printable = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = h[i];
        if (c < 0x20 && c != 9 && c != 10 && c != 12 && c != 13)
            return 0;
        if ((c >= 0x20 && c < 0x7F) || c == 9 || c == 10 || c == 13)
            printable++;
    }
    return (double)printable >= 0.9 * (double)n;
}

/* sniff._looks_text(h[:n]): no NUL, and UTF-8 (a character cut in the last four bytes allowed) or
 * single-byte text. -1 on an error other than the decoding one. */
static int
looks_text(const unsigned char *h, Py_ssize_t n)
{
    Py_ssize_t i, start;
    unsigned char high = 0;
    PyObject *decoded, *exc;

    if (memchr(h, 0, (size_t)n) != NULL)
        return 0;
    for (i = 0; i < n; i++)
        high |= h[i];
    if (!(high & 0x80))
        return 1;  /* ASCII */
    decoded = PyUnicode_DecodeUTF8((const char *)h, n, "strict");
    if (decoded != NULL) {
        Py_DECREF(decoded);
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return -1;
#if PY_VERSION_HEX >= 0x030C0000
    exc = PyErr_GetRaisedException();
#else
    {
        PyObject *type, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
#endif
    if (exc == NULL || PyUnicodeDecodeError_GetStart(exc, &start) < 0) {
        Py_XDECREF(exc);
        return -1;
    }
    Py_DECREF(exc);
    if (start < n - 4)
        return latin1_text(h, n);
    return 1;
}

static PyObject *
text_or_data(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *magics, *result = Py_None;
    Py_ssize_t i, n;
    const unsigned char *h;
    int text;

    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!", &view, &PyTuple_Type, &magics))
        return NULL;
    h = (const unsigned char *)view.buf;
    n = view.len;
    if (n == 0)
        goto done;
    if (magics != magics_seen && read_magics(magics) < 0) {
        result = NULL;
        goto done;
    }
    for (i = 0; i < magics_count; i++) {
        Py_ssize_t offset = magics_table[i].offset, len = magics_table[i].len;
        if (offset <= n - len && memcmp(h + offset, magics_table[i].bytes, (size_t)len) == 0)
            goto done;  /* a magic: detect_type decides */
    }
    text = looks_text(h, n < 8192 ? n : 8192);
    result = text < 0 ? NULL : text ? TEXT : DATA;
done:
    PyBuffer_Release(&view);
    return Py_XNewRef(result);
}

/* sha256_hex: OpenSSL's SHA-256 (the libcrypto Python's hashlib loads, found with dlopen when the module is
 * imported, so building needs no OpenSSL headers), through its low-level SHA256_Init/Update/Final: for a
 * small member, hashlib's object, its EVP context (an algorithm fetch in OpenSSL 3, as the one-shot SHA256()
 * does too) and hexdigest cost more than the hash itself. */
typedef int (*sha256_init_fn)(void *ctx);
typedef int (*sha256_update_fn)(void *ctx, const void *data, size_t len);
typedef int (*sha256_final_fn)(unsigned char *md, void *ctx);
static sha256_init_fn sha_init = NULL;
static sha256_update_fn sha_update = NULL;
static sha256_final_fn sha_final = NULL;
/* OpenSSL's SHA256_CTX is 112 bytes (8 + 2 + 16 words, two ints); room to spare, aligned. */
typedef union { unsigned char bytes[256]; long long align; } sha256_ctx;

static void
find_sha256(void)
{
    static const char *names[] = {"libcrypto.so.3", "libcrypto.so", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL)
            continue;
        sha_init = (sha256_init_fn)dlsym(lib, "SHA256_Init");
        sha_update = (sha256_update_fn)dlsym(lib, "SHA256_Update");
        sha_final = (sha256_final_fn)dlsym(lib, "SHA256_Final");
        if (sha_init != NULL && sha_update != NULL && sha_final != NULL)
            return;  /* the library stays loaded for the life of the process */
        sha_init = NULL;
        sha_update = NULL;
        sha_final = NULL;
        dlclose(lib);
    }
}

/* A 32-byte digest as hashlib's hexdigest() spells it. */
static PyObject *
hex_digest(const unsigned char *md)
{
    static const char hex[] = "0123456789abcdef";
    char out[64];
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    return PyUnicode_FromStringAndSize(out, 64);
}

/* The n-byte unsigned integer at p, big-endian when `big`, else little-endian. */
static unsigned long long
word_at(const unsigned char *p, int n, int big)
{
    unsigned long long v = 0;
    if (big)
        for (int i = 0; i < n; i++)
            v = (v << 8) | p[i];
    else
        for (int i = n - 1; i >= 0; i--)
            v = (v << 8) | p[i];
    return v;
}

static PyObject *
sha256_hex(PyObject *self, PyObject *arg)
{
    unsigned char md[32];
    sha256_ctx ctx;
    Py_buffer view;
    int ok;
    if (sha_init == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sha256_hex: libcrypto's SHA256 functions were not found");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len >= 4096) {  /* as hashlib: other threads run while a large buffer is hashed */
        Py_BEGIN_ALLOW_THREADS
        ok = sha_init(&ctx) && sha_update(&ctx, view.buf, (size_t)view.len) && sha_final(md, &ctx);
        Py_END_ALLOW_THREADS
    }
    else
        ok = sha_init(&ctx) && sha_update(&ctx, view.buf, (size_t)view.len) && sha_final(md, &ctx);
    PyBuffer_Release(&view);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "sha256_hex: libcrypto's SHA256 failed");
        return NULL;
    }
    return hex_digest(md);
}

/* -- rock_ridge ---------------------------------------------------------------------------------- */
static PyObject *
rock_ridge(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t skip;
    if (!PyArg_ParseTuple(args, "y*n:rock_ridge", &view, &skip))
        return NULL;
    const unsigned char *a = view.buf;
    Py_ssize_t len = view.len, pos = skip < 0 ? len : (skip > len ? len : skip);
    const unsigned char *name[64];
    Py_ssize_t name_len[64];
    int names = 0, has_name = 0, name_dot = 0, have_px = 0, have_ino = 0, tfs = 0, tf_long = 0;
    unsigned long px[5] = {0};
    const unsigned char *tf = NULL;
    PyObject *result = NULL;
    while (pos + 4 <= len) {
        const unsigned char *e = a + pos;
        Py_ssize_t n = e[2];
        if (n < 4 || pos + n > len) {
            for (Py_ssize_t i = pos; i < len; i++)
                if (a[i] != 0)
                    goto none;  /* a malformed entry: parse reports it */
            break;
        }
        char s0 = (char)e[0], s1 = (char)e[1];
        if (s0 == 'S' && s1 == 'T')
            break;
        if ((s0 == 'C' && s1 == 'E') || (s0 == 'S' && s1 == 'L') || (s0 == 'P' && s1 == 'N')
            || (s0 == 'C' && s1 == 'L') || (s0 == 'P' && s1 == 'L') || (s0 == 'R' && s1 == 'E')
            || (s0 == 'Z' && (s1 == 'F' || s1 == '2')) || (s0 == 'S' && s1 == 'F'))
            goto none;  /* continuation, symlink, device, relocation, compression, sparse: parse reads them */
        if (s0 == 'P' && s1 == 'X' && n >= 36) {
            have_px = 1;
            px[0] = (unsigned long)word_at(e + 4, 4, 0);
            px[1] = (unsigned long)word_at(e + 12, 4, 0);
            px[2] = (unsigned long)word_at(e + 20, 4, 0);
            px[3] = (unsigned long)word_at(e + 28, 4, 0);
            if (n >= 44) {
                have_ino = 1;
                px[4] = (unsigned long)word_at(e + 36, 4, 0);
            }
        }
        else if (s0 == 'N' && s1 == 'M' && n >= 5) {
            has_name = 1;
            if (e[4] & 0x06) {
                if (names)
                    goto none;  /* "." or ".." after name parts: parse replaces them */
                name_dot = e[4] & 0x02 ? 1 : 2;
            }
            else {
                if (name_dot || names == 64)
                    goto none;
                name[names] = e + 5;
                name_len[names++] = n - 5;
            }
        }
        else if (s0 == 'T' && s1 == 'F' && n >= 5) {
            if (++tfs > 1)
                goto none;  /* the last valid stamp wins: parse decides */
            int flags = e[4], size = flags & 0x80 ? 17 : 7;
            Py_ssize_t at = 5 + (flags & 0x01 ? size : 0);
            if (flags & 0x02 && at + size <= n) {
                tf = e + at;
                tf_long = size == 17;
            }
        }
        pos += n;
    }
    /* (name, mode, nlink, uid, gid, ino, stamp, long stamp): iso9660_rr.parse makes the RockRidge */
    PyObject *name_obj;
    if (!has_name)
        name_obj = Py_NewRef(Py_None);
    else if (name_dot)
        name_obj = PyBytes_FromString(name_dot == 1 ? "." : "..");
    else {
        Py_ssize_t total = 0;
        for (int i = 0; i < names; i++)
            total += name_len[i];
        name_obj = PyBytes_FromStringAndSize(NULL, total);
        if (name_obj != NULL) {
            char *out = PyBytes_AS_STRING(name_obj);
            for (int i = 0; i < names; i++) {
                memcpy(out, name[i], (size_t)name_len[i]);
                out += name_len[i];
            }
        }
    }
    if (name_obj == NULL)
        goto done;
    PyObject *stamp = tf == NULL ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize((const char *)tf, tf_long ? 17 : 7);
    if (stamp == NULL) {
        Py_DECREF(name_obj);
        goto done;
    }
    if (have_px)
        result = Py_BuildValue("(NkkkkNNO)", name_obj, px[0], px[1], px[2], px[3],
                               have_ino ? PyLong_FromUnsignedLong(px[4]) : Py_NewRef(Py_None), stamp,
                               tf_long ? Py_True : Py_False);
    else
        result = Py_BuildValue("(NOOOOONO)", name_obj, Py_None, Py_None, Py_None, Py_None, Py_None, stamp,
                               tf_long ? Py_True : Py_False);
    goto done;
none:
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return result;
}

/* -- twins_take ---------------------------------------------------------------------------------- */
static PyObject *S_INCOMPLETE, *S_APPEND;

/* rest.append((index, entry_of(row))) */
static int
twins_rest(PyObject *rest, PyObject *entry_of, PyObject *index, PyObject *row)
{
    PyObject *entry = PyObject_CallOneArg(entry_of, row);
    if (entry == NULL)
        return -1;
    PyObject *pair = PyTuple_Pack(2, index, entry);
    Py_DECREF(entry);
    if (pair == NULL)
        return -1;
    int rc = PyList_Append(rest, pair);
    Py_DECREF(pair);
    return rc;
}

/* set.add(text[cut:]) */
static int
twins_interior(PyObject *interior, PyObject *path, Py_ssize_t cut)
{
    PyObject *rel = PyUnicode_Substring(path, cut, PyUnicode_GET_LENGTH(path));
    if (rel == NULL)
        return -1;
    int rc = PySet_Add(interior, rel);
    Py_DECREF(rel);
    return rc;
}

/* list[g] += value (value None counts 0) */
static int
twins_add(PyObject *list, Py_ssize_t g, PyObject *value)
{
    if (value == Py_None)
        return 0;
    int truth = PyObject_IsTrue(value);
    if (truth <= 0)
        return truth;
    PyObject *sum = PyNumber_Add(PyList_GET_ITEM(list, g), value);
    if (sum == NULL)
        return -1;
    return PyList_SetItem(list, g, sum);  /* steals sum */
}

static int
twins_call_append(PyObject *append, PyObject *value)
{
    PyObject *r = PyObject_CallOneArg(append, value);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static int
twins_append_ssize(PyObject *append, Py_ssize_t value)
{
    PyObject *v = PyLong_FromSsize_t(value);
    if (v == NULL)
        return -1;
    int rc = twins_call_append(append, v);
    Py_DECREF(v);
    return rc;
}

/* Whether a row's meta rules it out as a twin: ``meta and (meta.get("incomplete") or binary in meta)``. */
static int
twins_meta_excludes(PyObject *meta, PyObject *binary_key)
{
    if (meta == Py_None)
        return 0;
    int truth = PyObject_IsTrue(meta);
    if (truth <= 0)
        return truth;
    PyObject *incomplete;
    if (PyDict_CheckExact(meta)) {
        incomplete = PyDict_GetItemWithError(meta, S_INCOMPLETE);
        Py_XINCREF(incomplete);
        if (incomplete == NULL && PyErr_Occurred())
            return -1;
    }
    else {
        incomplete = PyObject_CallMethod(meta, "get", "O", S_INCOMPLETE);
        if (incomplete == NULL)
            return -1;
    }
    if (incomplete != NULL) {
        truth = PyObject_IsTrue(incomplete);
        Py_DECREF(incomplete);
        if (truth != 0)
            return truth;
    }
    return PySequence_Contains(meta, binary_key);
}

static PyObject *
twins_take(PyObject *self, PyObject *args)
{
    PyObject *entries, *prefix, *blocked, *interior, *mine, *theirs, *rest, *other_rest, *found;
    PyObject *same_file, *entry_of, *doubt, *file_kind, *dir_kind, *binary_key;
    Py_ssize_t n;
    int old_side;
    if (!PyArg_ParseTuple(args, "OnUpO!O!O!O!O!O!OOOOUUU:twins_take", &entries, &n, &prefix, &old_side,
                          &PySet_Type, &blocked, &PySet_Type, &interior, &PyDict_Type, &mine, &PyDict_Type, &theirs,
                          &PyList_Type, &rest, &PyList_Type, &other_rest, &found, &same_file, &entry_of, &doubt,
                          &file_kind, &dir_kind, &binary_key))
        return NULL;
    static const char *names[] = {"groups", "by_parent", "count", "old_bytes", "new_bytes", "old_implied",
                                  "new_implied", "old_index", "new_index", "group_of", "paths"};
    enum { GROUPS, BY_PARENT, COUNT, OLD_BYTES, NEW_BYTES, OLD_IMPLIED, NEW_IMPLIED, OLD_INDEX, NEW_INDEX,
           GROUP_OF, PATHS, N_FIELDS };
    PyObject *f[N_FIELDS] = {NULL};
    PyObject *appends[4] = {NULL};  /* old_index, new_index, group_of, paths: their bound append */
    Py_ssize_t taken = 0;
    PyObject *result = NULL;
    for (int i = 0; i < N_FIELDS; i++)
        if ((f[i] = PyObject_GetAttrString(found, names[i])) == NULL)
            goto done;
    for (int i = GROUPS; i <= NEW_IMPLIED; i++)
        if (i != BY_PARENT && !PyList_Check(f[i])) {
            PyErr_Format(PyExc_TypeError, "twins_take: found.%s must be a list", names[i]);
            goto done;
        }
    if (!PyTuple_Check(f[BY_PARENT]) || PyTuple_GET_SIZE(f[BY_PARENT]) != 2
        || !PyDict_Check(PyTuple_GET_ITEM(f[BY_PARENT], 0)) || !PyDict_Check(PyTuple_GET_ITEM(f[BY_PARENT], 1))) {
        PyErr_SetString(PyExc_TypeError, "twins_take: found.by_parent must be two dicts");
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if ((appends[i] = PyObject_GetAttr(f[OLD_INDEX + i], S_APPEND)) == NULL)
            goto done;
    PyObject *mine_index = appends[old_side ? 0 : 1], *theirs_index = appends[old_side ? 1 : 0];
    PyObject *groups = f[GROUPS];
    Py_ssize_t cut = PyUnicode_GET_LENGTH(prefix);
    for (; taken < n; taken++) {
        PyObject *item = PyIter_Next(entries);
        if (item == NULL) {
            if (PyErr_Occurred())
                goto done;
            break;
        }
        /* the rest of the loop body holds item; every exit below goes through `next` or `fail_item` */
        PyObject *index, *e, *rel = NULL, *other = NULL, *parent = NULL;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(item, 1))
            || PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 1)) < 13) {
            PyErr_SetString(PyExc_TypeError, "twins_take: entries must give (index, row) with a 13-field row");
            goto fail_item;
        }
        index = PyTuple_GET_ITEM(item, 0);
        e = PyTuple_GET_ITEM(item, 1);
        PyObject *path = PyTuple_GET_ITEM(e, 0), *kind = PyTuple_GET_ITEM(e, 1);
        if (!PyUnicode_Check(path) || !PyUnicode_Check(kind)) {
            PyErr_SetString(PyExc_TypeError, "twins_take: a row's path and kind must be str");
            goto fail_item;
        }
        int is_file = kind == file_kind || PyUnicode_Compare(kind, file_kind) == 0;
        Py_ssize_t prefixed = PyUnicode_Tailmatch(path, prefix, 0, PY_SSIZE_T_MAX, -1);
        if (prefixed < 0)
            goto fail_item;
        if (!is_file || !prefixed) {
            if (prefixed && (kind == dir_kind || PyUnicode_Compare(kind, dir_kind) == 0)
                && twins_interior(interior, path, cut) < 0)
                goto fail_item;
            if (twins_rest(rest, entry_of, index, e) < 0)
                goto fail_item;
            goto next;
        }
        int container = PyObject_IsTrue(PyTuple_GET_ITEM(e, 10));
        if (container < 0)
            goto fail_item;
        if (container) {
            int opened = PyObject_IsTrue(PyTuple_GET_ITEM(e, 11));
            if (opened < 0)
                goto fail_item;
            if (opened) {
                if (twins_interior(interior, path, cut) < 0 || twins_rest(rest, entry_of, index, e) < 0)
                    goto fail_item;
                goto next;
            }
        }
        int excluded = PyTuple_GET_ITEM(e, 5) == Py_None;
        if (!excluded && (excluded = twins_meta_excludes(PyTuple_GET_ITEM(e, 12), binary_key)) < 0)
            goto fail_item;
        if (excluded) {
            if (twins_rest(rest, entry_of, index, e) < 0)
                goto fail_item;
            goto next;
        }
        if ((rel = PyUnicode_Substring(path, cut, PyUnicode_GET_LENGTH(path))) == NULL)
            goto fail_item;
        other = PyDict_GetItemWithError(theirs, rel);  /* theirs.pop(rel, None) */
        if (other != NULL) {
            Py_INCREF(other);
            if (PyDict_DelItem(theirs, rel) < 0)
                goto fail_item;
        }
        else if (PyErr_Occurred())
            goto fail_item;
        if (other == NULL) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(rel);
            Py_ssize_t pos = PyUnicode_FindChar(rel, '/', 0, len, -1);
            if (pos == -2)
                goto fail_item;
            int in_blocked = 0;
            if (pos > 0 && PySet_GET_SIZE(blocked) && (in_blocked = PySet_Contains(blocked, rel)) < 0)
                goto fail_item;
            if (pos <= 0 || in_blocked) {
                if (twins_rest(rest, entry_of, index, e) < 0)
                    goto fail_item;
                goto next;
            }
            int nest = PyUnicode_READ_CHAR(rel, pos - 1) == '!';
            if ((parent = PyUnicode_Substring(rel, 0, nest ? pos - 1 : pos)) == NULL)
                goto fail_item;
            int early = PySet_Contains(interior, parent);
            if (early < 0)
                goto fail_item;
            PyObject *waiting = PyTuple_Pack(5, index, e, parent, nest ? Py_True : Py_False,
                                             early ? Py_True : Py_False);
            if (waiting == NULL)
                goto fail_item;
            PyObject *got = PyDict_SetDefault(mine, rel, waiting);  /* borrowed */
            Py_DECREF(waiting);
            if (got == NULL)
                goto fail_item;
            int differs = PyObject_RichCompareBool(PyTuple_GET_ITEM(got, 0), index, Py_NE);
            if (differs < 0)
                goto fail_item;
            if (differs) {
                PyErr_Format(doubt, "%U twice on one side", rel);
                goto fail_item;
            }
            goto next;
        }
        if (!PyTuple_Check(other) || PyTuple_GET_SIZE(other) != 5) {
            PyErr_SetString(PyExc_TypeError, "twins_take: a waiting file must be a 5-tuple");
            goto fail_item;
        }
        PyObject *other_row = PyTuple_GET_ITEM(other, 1);
        PyObject *o_e = old_side ? e : other_row, *n_e = old_side ? other_row : e;
        PyObject *pair_args[2] = {o_e, n_e};
        PyObject *same_obj = PyObject_Vectorcall(same_file, pair_args, 2, NULL);
        if (same_obj == NULL)
            goto fail_item;
        int same = PyObject_IsTrue(same_obj);
        Py_DECREF(same_obj);
        if (same < 0)
            goto fail_item;
        if (!same) {
            if (twins_rest(rest, entry_of, index, e) < 0
                || twins_rest(other_rest, entry_of, PyTuple_GET_ITEM(other, 0), other_row) < 0)
                goto fail_item;
            goto next;
        }
        parent = PyTuple_GET_ITEM(other, 2);  /* the same relative path: the same parent */
        Py_INCREF(parent);
        PyObject *nest_obj = PyTuple_GET_ITEM(other, 3);
        int nest = PyObject_IsTrue(nest_obj);
        if (nest < 0)
            goto fail_item;
        PyObject *by_parent = PyTuple_GET_ITEM(f[BY_PARENT], nest);
        PyObject *g_obj = PyDict_GetItemWithError(by_parent, parent);
        Py_ssize_t g;
        if (g_obj == NULL) {
            if (PyErr_Occurred())
                goto fail_item;
            g = PyList_GET_SIZE(groups);
            if (!PyUnicode_Check(parent) || !PyTuple_Check(n_e) || PyTuple_GET_SIZE(n_e) < 1) {
                PyErr_SetString(PyExc_TypeError, "twins_take: a waiting file's parent must be str");
                goto fail_item;
            }
            PyObject *g_new = PyLong_FromSsize_t(g);
            if (g_new == NULL)
                goto fail_item;
            int bad = PyDict_SetItem(by_parent, parent, g_new) < 0;
            Py_DECREF(g_new);
            if (bad)
                goto fail_item;
            PyObject *key = PyUnicode_Substring(rel, PyUnicode_GET_LENGTH(parent), PyUnicode_GET_LENGTH(rel));
            if (key == NULL)
                goto fail_item;
            PyObject *group = PyTuple_Pack(4, parent, nest_obj, key, PyTuple_GET_ITEM(n_e, 0));
            Py_DECREF(key);
            if (group == NULL)
                goto fail_item;
            bad = PyList_Append(groups, group) < 0;
            Py_DECREF(group);
            PyObject *zero = PyLong_FromLong(0);
            for (int i = COUNT; !bad && i <= NEW_BYTES; i++)
                bad = zero == NULL || PyList_Append(f[i], zero) < 0;
            Py_XDECREF(zero);
            for (int i = OLD_IMPLIED; !bad && i <= NEW_IMPLIED; i++)
                bad = PyList_Append(f[i], Py_False) < 0;
            if (bad)
                goto fail_item;
        }
        else if ((g = PyLong_AsSsize_t(g_obj)) < 0 || g >= PyList_GET_SIZE(groups)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "twins_take: a group index out of range");
            goto fail_item;
        }
        if (PyList_GET_SIZE(f[COUNT]) <= g || PyList_GET_SIZE(f[OLD_BYTES]) <= g || PyList_GET_SIZE(f[NEW_BYTES]) <= g
            || PyList_GET_SIZE(f[OLD_IMPLIED]) <= g || PyList_GET_SIZE(f[NEW_IMPLIED]) <= g) {
            PyErr_SetString(PyExc_IndexError, "twins_take: the group lists are shorter than the groups");
            goto fail_item;
        }
        int early = PySet_Contains(interior, parent);
        int other_early = PyObject_IsTrue(PyTuple_GET_ITEM(other, 4));
        if (early < 0 || other_early < 0)
            goto fail_item;
        if (!(old_side ? early : other_early)) {
            Py_INCREF(Py_True);
            if (PyList_SetItem(f[OLD_IMPLIED], g, Py_True) < 0)
                goto fail_item;
        }
        if (!(old_side ? other_early : early)) {
            Py_INCREF(Py_True);
            if (PyList_SetItem(f[NEW_IMPLIED], g, Py_True) < 0)
                goto fail_item;
        }
        PyObject *one = PyLong_FromLong(1);
        int bad = one == NULL || twins_add(f[COUNT], g, one) < 0;
        Py_XDECREF(one);
        if (bad || twins_add(f[OLD_BYTES], g, PyTuple_GET_ITEM(o_e, 2)) < 0
            || twins_add(f[NEW_BYTES], g, PyTuple_GET_ITEM(n_e, 2)) < 0)
            goto fail_item;
        Py_hash_t h = PyObject_Hash(rel);
        if (h == -1 && PyErr_Occurred())
            goto fail_item;
        if (twins_call_append(mine_index, index) < 0 || twins_call_append(theirs_index, PyTuple_GET_ITEM(other, 0)) < 0
            || twins_append_ssize(appends[2], g) < 0 || twins_append_ssize(appends[3], (Py_ssize_t)h) < 0)
            goto fail_item;
    next:
        Py_XDECREF(rel);
        Py_XDECREF(other);
        Py_XDECREF(parent);
        Py_DECREF(item);
        continue;
    fail_item:
        Py_XDECREF(rel);
        Py_XDECREF(other);
        Py_XDECREF(parent);
        Py_DECREF(item);
        goto done;
    }
    result = PyLong_FromSsize_t(taken);
done:
    for (int i = 0; i < N_FIELDS; i++)
        Py_XDECREF(f[i]);
    for (int i = 0; i < 4; i++)
        Py_XDECREF(appends[i]);
    return result;
}

/* -- elf_meta ------------------------------------------------------------------------------------ */
#define ELF_CLASSES 6          /* SectionClass: code, rodata, data, bss, debug, other (definition order) */
#define ELF_CODE 0
#define ELF_RODATA 1
#define ELF_DATA 2
#define ELF_BSS 3
#define ELF_SHT_NOBITS 8
#define ELF_MAX_NAME 4096
#define ELF_MAX_STRTAB (16 * 1024 * 1024)
static PyObject *K_FORMAT, *K_MACHINE, *K_CODE_BYTES, *K_DATA_BYTES, *K_WCODE_BYTES, *K_RODATA_BYTES,
    *K_RWDATA_BYTES, *K_BSS_BYTES, *K_DEBUG_BYTES, *K_OTHER_BYTES, *K_CODE_SHA, *K_DATA_SHA, *K_SECTIONS,
    *K_NAME, *K_CLASS, *K_SIZE, *K_FILE_SIZE, *K_OFFSET, *K_FLAGS, *K_WRITABLE, *V_ELF;

static int
elf_set(PyObject *d, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

static int
elf_set_u64(PyObject *d, PyObject *key, unsigned long long v)
{
    return elf_set(d, key, PyLong_FromUnsignedLongLong(v));
}

typedef struct { unsigned long long offset, size; int group; } elf_extent;  /* group 1 code, 2 data */

/* Where ELF32 and ELF64 keep the fields read here (System V gABI): e_shoff in the header (the section-table
 * fields follow e_shoff, e_flags and three halfwords), the width of an address or offset, a section
 * header's size, and sh_offset in it (sh_size follows; sh_flags is at 8 in both). */
typedef struct { int shoff, word, sh_offset; unsigned long long record; } elf_layout;
static const elf_layout ELF32_LAYOUT = {0x20, 4, 16, 40};
static const elf_layout ELF64_LAYOUT = {0x28, 8, 24, 64};

/* Where an ELF file's bytes are: in memory (buf), or in a file read with pread (fd; a spooled executable,
 * read rather than mapped so that its pages do not count against the process). */
typedef struct { const unsigned char *buf; int fd; unsigned long long total; } elf_src;

#define ELF_SHORT (-2)  /* the file holds fewer bytes than it was said to: read_elf decides */

/* The n bytes at off (inside the file): a pointer into memory, or a copy in *owned (PyMem_Free'd by the
 * caller). NULL with an exception set, or NULL and *status ELF_SHORT. */
static const unsigned char *
elf_bytes(const elf_src *src, unsigned long long off, size_t n, unsigned char **owned, int *status)
{
    if (src->buf != NULL)
        return src->buf + off;
    unsigned char *p = PyMem_Malloc(n ? n : 1);
    if (p == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(src->fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                PyErr_SetFromErrno(PyExc_OSError);
            else
                *status = ELF_SHORT;
            PyMem_Free(p);
            return NULL;
        }
        got += (size_t)r;
    }
    *owned = p;
    return p;
}

/* Hash the extents of one group into ctx, without the GIL held by the caller: 1, 0 (SHA256 failed),
 * -1 (read error: errno) or ELF_SHORT. */
static int
elf_hash(const elf_src *src, const elf_extent *extents, size_t n, int group, sha256_ctx *ctx,
         unsigned char *scratch, size_t scratch_size)
{
    if (!sha_init(ctx))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (extents[i].group != group || extents[i].size == 0)
            continue;
        if (src->buf != NULL) {
            if (!sha_update(ctx, src->buf + extents[i].offset, (size_t)extents[i].size))
                return 0;
            continue;
        }
        unsigned long long at = extents[i].offset, left = extents[i].size;
        while (left > 0) {
            size_t want = left < scratch_size ? (size_t)left : scratch_size;
            ssize_t r = pread(src->fd, scratch, want, (off_t)at);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -1;
            if (r == 0)
                return ELF_SHORT;
            if (!sha_update(ctx, scratch, (size_t)r))
                return 0;
            at += (unsigned long long)r;
            left -= (unsigned long long)r;
        }
    }
    return 1;
}

static PyObject *
elf_meta(PyObject *self, PyObject *args)
{
    PyObject *data, *kind, *machines;
    long long size_arg = -1;
    Py_buffer view;
    int have_view = 0, status = 0;
    elf_src src = {NULL, -1, 0};
    PyObject *result = NULL, *sections = NULL, *names_cache = NULL;
    elf_extent *extents = NULL;
    unsigned char *owned_table = NULL, *owned_strtab = NULL, *scratch = NULL;
    unsigned char head[64];
    if (!PyArg_ParseTuple(args, "OOO!|L:elf_meta", &data, &kind, &PyDict_Type, &machines, &size_arg))
        return NULL;
    if (sha_init == NULL)
        Py_RETURN_NONE;
    if (PyLong_Check(data)) {  /* a file descriptor, with the executable's size */
        src.fd = (int)PyLong_AsLong(data);
        if (src.fd < 0 || size_arg < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "elf_meta: a file descriptor needs the file's size");
            return NULL;
        }
        src.total = (unsigned long long)size_arg;
        size_t want = src.total < 64 ? (size_t)src.total : 64;
        unsigned char *owned = NULL;
        const unsigned char *h = elf_bytes(&src, 0, want, &owned, &status);
        if (h == NULL)
            goto none_or_fail;
        memcpy(head, h, want);
        PyMem_Free(owned);
    }
    else {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        have_view = 1;
        src.buf = view.buf;
        src.total = (unsigned long long)view.len;
        memcpy(head, view.buf, src.total < 64 ? (size_t)src.total : 64);
    }
    const unsigned char *b = head;
    unsigned long long total = src.total;
    int wide, big;
    unsigned long long shoff, shentsize, shnum, shstrndx, machine;
    /* binaries.headers.check_elf_header, for the shapes read here */
    if (total < 52 || (b[4] != 1 && b[4] != 2) || (b[5] != 1 && b[5] != 2))
        goto none;
    wide = b[4] == 2;
    big = b[5] == 2;
    if (wide && total < 64)
        goto none;
    const elf_layout *L = wide ? &ELF64_LAYOUT : &ELF32_LAYOUT;
    machine = word_at(b + 0x12, 2, big);
    shoff = word_at(b + L->shoff, L->word, big);
    shentsize = word_at(b + L->shoff + L->word + 10, 2, big);  /* after e_flags, e_ehsize, e_phentsize, e_phnum */
    shnum = word_at(b + L->shoff + L->word + 12, 2, big);
    shstrndx = word_at(b + L->shoff + L->word + 14, 2, big);
    if (shoff == 0 || shnum == 0 || shentsize != L->record || shstrndx == 0xFFFF)
        goto none;
    if (shoff > total || shnum * shentsize > total - shoff)
        goto none;
    if (shstrndx == 0 || shstrndx >= shnum)
        goto none;  /* _names: no name table (read_elf names everything "" or raises) */
    const unsigned char *table = elf_bytes(&src, shoff, (size_t)(shnum * shentsize), &owned_table, &status);
    if (table == NULL)
        goto none_or_fail;
    /* The name table: inside the file, at most 16 MiB, ASCII (so each name is its bytes). */
    const unsigned char *st = table + shstrndx * shentsize;
    unsigned long long st_off = word_at(st + L->sh_offset, L->word, big);
    unsigned long long st_size = word_at(st + L->sh_offset + L->word, L->word, big);
    if (st_size == 0 || st_size > ELF_MAX_STRTAB || st_off > total || st_size > total - st_off)
        goto none;  /* an empty table: every sh_name would lie past its end */
    const unsigned char *strtab = elf_bytes(&src, st_off, (size_t)st_size, &owned_strtab, &status);
    if (strtab == NULL)
        goto none_or_fail;
    for (unsigned long long i = 0; i < st_size; i++)
        if (strtab[i] & 0x80)
            goto none;
    extents = PyMem_Malloc(sizeof(elf_extent) * (size_t)shnum);
    if (extents == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if ((sections = PyList_New(0)) == NULL || (names_cache = PyDict_New()) == NULL)
        goto fail;
    unsigned long long by_class[ELF_CLASSES] = {0}, writable_code = 0;
    size_t n_extents = 0;
    for (unsigned long long i = 0; i < shnum; i++) {
        const unsigned char *r = table + i * shentsize;
        unsigned long long sh_name = word_at(r, 4, big), sh_type = word_at(r + 4, 4, big);
        unsigned long long flags = word_at(r + 8, L->word, big);
        unsigned long long offset = word_at(r + L->sh_offset, L->word, big);
        unsigned long long size = word_at(r + L->sh_offset + L->word, L->word, big);
        if (sh_name >= st_size)
            goto none;  /* read_elf raises, naming sh_name */
        if (sh_type == 0)
            continue;  /* SHT_NULL: its name was checked, as read_elf checks it */
        unsigned long long file_size = sh_type == ELF_SHT_NOBITS ? 0 : size;
        if (file_size && (offset > total || file_size > total - offset))
            goto none;  /* read_elf raises, naming the section */
        const unsigned char *name_start = strtab + sh_name;
        unsigned long long most = st_size - sh_name < ELF_MAX_NAME ? st_size - sh_name : ELF_MAX_NAME;
        const unsigned char *nul = memchr(name_start, 0, (size_t)most);
        Py_ssize_t name_len = nul != NULL ? nul - name_start : (Py_ssize_t)most;
        /* Names repeat within a file (and the class rule is cached by name): one str per distinct name. */
        PyObject *name_key = PyLong_FromUnsignedLongLong(sh_name);
        if (name_key == NULL)
            goto fail;
        PyObject *name = PyDict_GetItemWithError(names_cache, name_key);
        if (name != NULL)
            Py_INCREF(name);
        else if (!PyErr_Occurred()) {
            name = PyUnicode_DecodeASCII((const char *)name_start, name_len, NULL);
            if (name != NULL && PyDict_SetItem(names_cache, name_key, name) < 0)
                Py_CLEAR(name);
        }
        Py_DECREF(name_key);
        if (name == NULL)
            goto fail;
        PyObject *type_obj = PyLong_FromUnsignedLongLong(sh_type);
        PyObject *flags_obj = PyLong_FromUnsignedLongLong(flags);
        PyObject *k = NULL;
        if (type_obj != NULL && flags_obj != NULL) {
            PyObject *kargs[3] = {name, type_obj, flags_obj};
            k = PyObject_Vectorcall(kind, kargs, 3, NULL);
        }
        Py_XDECREF(type_obj);
        Py_XDECREF(flags_obj);
        if (k == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        long klass = -1;
        int writable = 0;
        if (PyTuple_Check(k) && PyTuple_GET_SIZE(k) == 4) {
            klass = PyLong_AsLong(PyTuple_GET_ITEM(k, 0));
            writable = PyObject_IsTrue(PyTuple_GET_ITEM(k, 3));
        }
        if (klass < 0 || klass >= ELF_CLASSES || writable < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "elf_meta: kind() must give (class index, class, letters, writable)");
            Py_DECREF(k);
            Py_DECREF(name);
            goto fail;
        }
        PyObject *row = PyDict_New();
        int bad = row == NULL
            || PyDict_SetItem(row, K_NAME, name) < 0
            || PyDict_SetItem(row, K_CLASS, PyTuple_GET_ITEM(k, 1)) < 0
            || elf_set_u64(row, K_SIZE, size) < 0
            || elf_set_u64(row, K_FILE_SIZE, file_size) < 0
            || elf_set_u64(row, K_OFFSET, offset) < 0
            || PyDict_SetItem(row, K_FLAGS, PyTuple_GET_ITEM(k, 2)) < 0
            || (writable && PyDict_SetItem(row, K_WRITABLE, Py_True) < 0)
            || PyList_Append(sections, row) < 0;
        Py_XDECREF(row);
        Py_DECREF(k);
        Py_DECREF(name);
        if (bad)
            goto fail;
        by_class[klass] += klass == ELF_BSS ? size : file_size;
        if (klass == ELF_CODE && writable)
            writable_code += file_size;
        if (klass == ELF_CODE || klass == ELF_RODATA || klass == ELF_DATA) {
            extents[n_extents].offset = offset;
            extents[n_extents].size = file_size;
            extents[n_extents].group = klass == ELF_CODE ? 1 : 2;
            n_extents++;
        }
    }
    if (PyList_GET_SIZE(sections) == 0)
        goto none;  /* read_elf falls back to the program headers */
    /* The digests: code sections' bytes in table order, and the data sections' (binaries.blob.binary_info). */
    size_t scratch_size = 1 << 20;
    if (src.buf == NULL && (scratch = PyMem_Malloc(scratch_size)) == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    unsigned char code_md[32], data_md[32];
    sha256_ctx code_ctx, data_ctx;
    int hashed;
    Py_BEGIN_ALLOW_THREADS
    hashed = elf_hash(&src, extents, n_extents, 1, &code_ctx, scratch, scratch_size);
    if (hashed == 1)
        hashed = elf_hash(&src, extents, n_extents, 2, &data_ctx, scratch, scratch_size);
    if (hashed == 1)
        hashed = sha_final(code_md, &code_ctx) && sha_final(data_md, &data_ctx);
    Py_END_ALLOW_THREADS
    if (hashed == ELF_SHORT)
        goto none;
    if (hashed == -1) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    if (!hashed) {
        PyErr_SetString(PyExc_RuntimeError, "elf_meta: libcrypto's SHA256 failed");
        goto fail;
    }
    PyObject *machine_key = PyLong_FromUnsignedLongLong(machine);
    if (machine_key == NULL)
        goto fail;
    PyObject *machine_name = PyDict_GetItemWithError(machines, machine_key);
    if (machine_name != NULL)
        Py_INCREF(machine_name);
    else if (!PyErr_Occurred())
        machine_name = PyObject_Str(machine_key);
    Py_DECREF(machine_key);
    if (machine_name == NULL)
        goto fail;
    /* BinaryInfo.to_meta's keys, in its order. */
    result = PyDict_New();
    if (result == NULL || PyDict_SetItem(result, K_FORMAT, V_ELF) < 0) {
        Py_DECREF(machine_name);
        goto fail;
    }
    if (elf_set(result, K_MACHINE, machine_name) < 0
        || elf_set_u64(result, K_CODE_BYTES, by_class[ELF_CODE]) < 0
        || elf_set_u64(result, K_DATA_BYTES, by_class[ELF_RODATA] + by_class[ELF_DATA]) < 0
        || elf_set_u64(result, K_WCODE_BYTES, writable_code) < 0
        || elf_set_u64(result, K_RODATA_BYTES, by_class[ELF_RODATA]) < 0
        || elf_set_u64(result, K_RWDATA_BYTES, by_class[ELF_DATA]) < 0
        || elf_set_u64(result, K_BSS_BYTES, by_class[ELF_BSS]) < 0
        || elf_set_u64(result, K_DEBUG_BYTES, by_class[4]) < 0
        || elf_set_u64(result, K_OTHER_BYTES, by_class[5]) < 0
        || elf_set(result, K_CODE_SHA, hex_digest(code_md)) < 0
        || elf_set(result, K_DATA_SHA, hex_digest(data_md)) < 0
        || PyDict_SetItem(result, K_SECTIONS, sections) < 0)
        goto fail;
    goto done;
none_or_fail:
    if (PyErr_Occurred())
        goto fail;
none:
    Py_CLEAR(result);
    result = Py_None;
    Py_INCREF(result);
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(sections);
    Py_XDECREF(names_cache);
    PyMem_Free(extents);
    PyMem_Free(owned_table);
    PyMem_Free(owned_strtab);
    PyMem_Free(scratch);
    if (have_view)
        PyBuffer_Release(&view);
    return result;
}

/* Every string the functions above make once, at import (interned). */
static int
intern_strings(void)
{
    struct { PyObject **slot; const char *text; } keys[] = {
        {&TEXT, "text"}, {&DATA, "data"}, {&S_INCOMPLETE, "incomplete"}, {&S_APPEND, "append"},
        {&K_FORMAT, "format"}, {&K_MACHINE, "machine"}, {&K_CODE_BYTES, "code_bytes"},
        {&K_DATA_BYTES, "data_bytes"}, {&K_WCODE_BYTES, "writable_code_bytes"}, {&K_RODATA_BYTES, "rodata_bytes"},
        {&K_RWDATA_BYTES, "rwdata_bytes"}, {&K_BSS_BYTES, "bss_bytes"}, {&K_DEBUG_BYTES, "debug_bytes"},
        {&K_OTHER_BYTES, "other_bytes"}, {&K_CODE_SHA, "code_sha256"}, {&K_DATA_SHA, "data_sha256"},
        {&K_SECTIONS, "sections"}, {&K_NAME, "name"}, {&K_CLASS, "class"}, {&K_SIZE, "size"},
        {&K_FILE_SIZE, "file_size"}, {&K_OFFSET, "offset"}, {&K_FLAGS, "flags"}, {&K_WRITABLE, "writable"},
        {&V_ELF, "elf"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (*keys[i].slot == NULL && (*keys[i].slot = PyUnicode_InternFromString(keys[i].text)) == NULL)
            return -1;
    return 0;
}

static PyObject *
has_sha256(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(sha_init != NULL);
}

static PyMethodDef native_methods[] = {
    {"sha256_hex", sha256_hex, METH_O,
     "sha256_hex(data) -> str: hashlib.sha256(data).hexdigest(), by libcrypto's one-shot SHA256()."},
    {"has_sha256", has_sha256, METH_NOARGS,
     "has_sha256() -> bool: whether libcrypto's SHA256() was found (sha256_hex works)."},
    {"text_or_data", text_or_data, METH_VARARGS,
     "text_or_data(head, magics) -> 'text' | 'data' | None: sniff.detect_type(head) for a head that is not "
     "empty and starts with none of magics, else None."},
    {"tar_plain_run", tar_plain_run, METH_VARARGS,
     "tar_plain_run(buf, pos, most, small, fmt, kinds, make) -> (items, fmt, end): the run of plain tar members at "
     "buf[pos:] as inspector.unpack.tar reads them (see the module source)."},
    {"rock_ridge", rock_ridge, METH_VARARGS,
     "rock_ridge(system_use, skip) -> (name, mode, nlink, uid, gid, ino, stamp, long) | None: the plain Rock Ridge "
     "entries of a record as inspector.unpack.iso9660_rr.parse reads them; None where parse must."},
    {"twins_take", twins_take, METH_VARARGS,
     "twins_take(entries, n, prefix, old_side, blocked, interior, mine, theirs, rest, other_rest, found, same_file, "
     "entry_of, doubt, file_kind, dir_kind, binary_key) -> int: inspector.diff.twins._Side._take in C."},
    {"elf_meta", elf_meta, METH_VARARGS,
     "elf_meta(data, kind, machines[, size]) -> dict | None: the meta binaries.elf.read_elf gives for a common ELF, "
     "with the code/data digests computed without the GIL; None where read_elf must decide."},
    {"plain_name", plain_name, METH_O,
     "plain_name(name) -> bool: whether names.checked_member_path takes name as it is (no '..', names._PLAIN)."},
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
    if (intern_strings() < 0)
        return NULL;
    find_sha256();
    return PyModule_Create(&native_module);
}
