/* This user's named xipc objects on Windows, for the `xipc` command.
 *
 * Kernel objects: the session's object directory (\Sessions\<id>\
 * BaseNamedObjects, or \BaseNamedObjects in session 0) is read with
 * NtQueryDirectoryObject, one entry per call (Wine 8 implements only
 * ReturnSingleEntry=TRUE; Windows accepts it too). xipc's names:
 *   Section   "<name>" + "<name>.xmsz"  mapping, or a queue when the
 *                                        section starts with a valid queue
 *                                        header (xipc__queue_probe)
 *   Semaphore "<name>.xsem"              semaphore
 *   Mutant    "<name>.xmtx" (+ Section "<name>.xmst", its state)  mutex
 *   Section   "<name>.xlsn"              listener (below)
 * The size records, mutex states and the queues' wake semaphores
 * "<name>.xq<N>" belong to their object and are not listed. A section
 * without a size record was made by another program: it is listed as an
 * unmanaged mapping. Signal channels ("xipc.sig.*", events) and stream
 * pipes are private and not listed. Every object is opened (READ_CONTROL)
 * and must pass xipc__check_owner; Global\ objects are not listed.
 * Listing does open each object for a moment (and views sections read
 * only), so an object whose last holder closes it meanwhile lives until the
 * lister's handle closes; nothing is written.
 *
 * Holders: a snapshot of the system's handles
 * (NtQuerySystemInformation(SystemExtendedHandleInformation)); each
 * section, semaphore or mutant handle of a process we may duplicate from
 * is duplicated and named (NtQueryObject(ObjectNameInformation)). The
 * handles' kernel addresses would be faster, but Wine reports them as 0
 * and Windows 11 24H2 hides them without SeDebugPrivilege. The holders
 * found are complete (holders_known) only when their handle count matches
 * the object's own (NtQueryObject(ObjectBasicInformation)); otherwise a
 * holder is in a process we cannot open, or the handles changed meanwhile.
 * Not under Wine: Wine 8's wineserver crashed under this scan while
 * processes came and went (FINDINGS.md A7), so there holders are unknown.
 * Kernel objects are never stale: Windows frees them with the last handle,
 * also a dead process's. Windows records no creator or creation time; a
 * mapping's (and queue's) size record holds both (win32/shm.c), a
 * semaphore or mutex has neither (0).
 *
 * Persistent queues are files in %LOCALAPPDATA%\xipc\queues (win32/
 * queue.c); a file that no process has open (an open with no sharing
 * succeeds) has no holders, else the holders are unknown. They are not
 * managed (never stale); their creation time is the file's.
 *
 * Listeners: a listener (win32/listen.c) holds a lock section
 * "<name>.xlsn" next to its pipe \\.\pipe\xipc.<name>, with a record of its
 * pid; a section with a live record is the listener <name>, created by
 * that pid, its holders those of the lock. Pipes themselves are not
 * listed: Wine 8 cannot list \\.\pipe\* (ERROR_BAD_DEV_TYPE), and on
 * Windows a pipe's owner cannot be read without connecting to it (pipe
 * names are machine-wide, so that would list other users' pipes). */
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- ntdll, resolved at run time ------------------------------------- */

typedef LONG nt_status;
#define NT_MORE_ENTRIES ((nt_status)0x00000105)
#define NT_NO_MORE_ENTRIES ((nt_status)0x8000001A)
#define NT_INFO_LENGTH_MISMATCH ((nt_status)0xC0000004)

typedef struct {
  USHORT Length, MaximumLength;
  PWSTR Buffer;
} nt_ustr;
typedef struct {
  ULONG Length;
  HANDLE RootDirectory;
  nt_ustr *ObjectName;
  ULONG Attributes;
  PVOID SecurityDescriptor;
  PVOID SecurityQualityOfService;
} nt_oattr;
typedef struct {
  nt_ustr Name, TypeName;
} nt_dirent;
typedef struct { /* SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX */
  PVOID Object;
  ULONG_PTR UniqueProcessId;
  ULONG_PTR HandleValue;
  ULONG GrantedAccess;
  USHORT CreatorBackTraceIndex;
  USHORT ObjectTypeIndex;
  ULONG HandleAttributes;
  ULONG Reserved;
} nt_handle;
typedef struct { /* SYSTEM_HANDLE_INFORMATION_EX */
  ULONG_PTR NumberOfHandles;
  ULONG_PTR Reserved;
  nt_handle Handles[];
} nt_handles;
typedef struct { /* PUBLIC_OBJECT_BASIC_INFORMATION */
  ULONG Attributes;
  ACCESS_MASK GrantedAccess;
  ULONG HandleCount;
  ULONG PointerCount;
  ULONG Reserved[10];
} nt_basic;
typedef struct { /* SECTION_BASIC_INFORMATION */
  PVOID BaseAddress;
  ULONG Attributes;
  LARGE_INTEGER Size;
} nt_section;

#define SYS_EXTENDED_HANDLES 64
#define OBJ_BASIC 0
#define OBJ_NAME 1
#define DIR_QUERY_TRAVERSE 0x0003 /* DIRECTORY_QUERY | DIRECTORY_TRAVERSE */
#define OBJ_CASE_INSENSITIVE_ 0x40

typedef nt_status(NTAPI *open_dir_fn)(HANDLE *, ACCESS_MASK, nt_oattr *);
typedef nt_status(NTAPI *query_dir_fn)(HANDLE, void *, ULONG, BOOLEAN, BOOLEAN,
                                       ULONG *, ULONG *);
typedef nt_status(NTAPI *query_sys_fn)(ULONG, void *, ULONG, ULONG *);
typedef nt_status(NTAPI *query_obj_fn)(HANDLE, ULONG, void *, ULONG, ULONG *);
typedef nt_status(NTAPI *query_sec_fn)(HANDLE, ULONG, void *, SIZE_T, SIZE_T *);

typedef struct {
  open_dir_fn open_dir;
  query_dir_fn query_dir;
  query_sys_fn query_sys;
  query_obj_fn query_obj;
  query_sec_fn query_sec;
} nt_api;

/* A generic function pointer first: FARPROC to any other function type
 * would warn (-Wcast-function-type). */
typedef void (*any_fn)(void);
static any_fn nt_proc(HMODULE m, const char *name) {
  return (any_fn)GetProcAddress(m, name);
}

static int nt_load(nt_api *nt) {
  HMODULE m = GetModuleHandleW(L"ntdll.dll");
  if (m == NULL)
    return xipc__fail_os();
  nt->open_dir = (open_dir_fn)nt_proc(m, "NtOpenDirectoryObject");
  nt->query_dir = (query_dir_fn)nt_proc(m, "NtQueryDirectoryObject");
  nt->query_sys = (query_sys_fn)nt_proc(m, "NtQuerySystemInformation");
  nt->query_obj = (query_obj_fn)nt_proc(m, "NtQueryObject");
  nt->query_sec = (query_sec_fn)nt_proc(m, "NtQuerySection");
  if (!nt->open_dir || !nt->query_dir || !nt->query_sys || !nt->query_obj ||
      !nt->query_sec)
    return xipc__fail(XIPC_ENOTSUP);
  return 0;
}

/* ---- growing arrays ---------------------------------------------------- */

static int grow(void **v, size_t *cap, size_t n, size_t elem) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 32;
  void *p = realloc(*v, c * elem);
  if (p == NULL)
    return xipc__fail(XIPC_ENOMEM);
  *v = p;
  *cap = c;
  return 0;
}

/* A counted UTF-16 string that is short ASCII -> NUL-terminated char; false
 * for anything else (no xipc name). */
static bool ascii_name(const WCHAR *w, size_t len, char *out, size_t cap) {
  if (len == 0 || len >= cap)
    return false;
  for (size_t i = 0; i < len; i++) {
    if (w[i] <= 0x20 || w[i] >= 0x7f)
      return false;
    out[i] = (char)w[i];
  }
  out[len] = '\0';
  return true;
}

static bool ends_with(const char *s, const char *suffix, size_t *base) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n <= k || strcmp(s + n - k, suffix) != 0)
    return false;
  *base = n - k;
  return true;
}

/* ---- the session's object directory ------------------------------------ */

enum { T_SECTION = 1, T_SEMAPHORE = 2, T_MUTANT = 3 };
#define ENTRY_MAX (XIPC_NAME_MAX + 16)

typedef struct {
  char name[ENTRY_MAX];
  int type;
} dir_entry;

typedef struct {
  dir_entry *v;
  size_t n, cap;
} dir_list;

static int type_of(const nt_ustr *t) {
  static const struct {
    const WCHAR *name;
    int type;
  } types[] = {{L"Section", T_SECTION},
               {L"Semaphore", T_SEMAPHORE},
               {L"Mutant", T_MUTANT}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (t->Length == wcslen(types[i].name) * sizeof(WCHAR) &&
        memcmp(t->Buffer, types[i].name, t->Length) == 0)
      return types[i].type;
  return 0;
}

/* The directory of this session's Local\ names, "\Sessions\<id>\
 * BaseNamedObjects" ("\BaseNamedObjects" for session 0, the services'). */
static void session_dir(WCHAR *out, size_t cap) {
  DWORD sid = 0;
  if (!ProcessIdToSessionId(GetCurrentProcessId(), &sid) || sid == 0)
    _snwprintf(out, cap, L"\\BaseNamedObjects");
  else
    _snwprintf(out, cap, L"\\Sessions\\%lu\\BaseNamedObjects",
               (unsigned long)sid);
  out[cap - 1] = 0;
}

static int add_entry(dir_list *l, const nt_dirent *e) {
  int type = type_of(&e->TypeName);
  dir_entry d;
  if (type == 0 || !ascii_name(e->Name.Buffer, e->Name.Length / sizeof(WCHAR),
                               d.name, sizeof d.name))
    return 0;
  d.type = type;
  int rc = grow((void **)&l->v, &l->cap, l->n, sizeof *l->v);
  if (rc == 0)
    l->v[l->n++] = d;
  return rc;
}

#define DIR_BUF 65536

/* One entry per call: Wine 8 answers a batch query (ReturnSingleEntry
 * FALSE) with STATUS_NOT_IMPLEMENTED. */
static int read_entries(const nt_api *nt, HANDLE dir, dir_list *l) {
  void *buf = malloc(DIR_BUF);
  if (buf == NULL)
    return xipc__fail(XIPC_ENOMEM);
  ULONG ctx = 0, ret = 0;
  int rc = 0;
  for (BOOLEAN first = TRUE; rc == 0; first = FALSE) {
    nt_status st = nt->query_dir(dir, buf, DIR_BUF, TRUE, first, &ctx, &ret);
    if (st == NT_NO_MORE_ENTRIES)
      break;
    if (st != 0 && st != NT_MORE_ENTRIES) {
      rc = xipc__fail(XIPC_EIO);
      break;
    }
    rc = add_entry(l, buf);
  }
  free(buf);
  return rc;
}

static int read_directory(const nt_api *nt, const WCHAR *path, dir_list *l) {
  nt_ustr us = {(USHORT)(wcslen(path) * sizeof(WCHAR)), 0, (PWSTR)path};
  us.MaximumLength = us.Length;
  nt_oattr oa = {sizeof oa, NULL, &us, OBJ_CASE_INSENSITIVE_, NULL, NULL};
  HANDLE dir = NULL;
  if (nt->open_dir(&dir, DIR_QUERY_TRAVERSE, &oa) != 0)
    return xipc__fail(XIPC_EACCES);
  int rc = read_entries(nt, dir, l);
  CloseHandle(dir);
  return rc;
}

static bool dir_has(const dir_list *l, int type, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].type == type && strcmp(l->v[i].name, name) == 0)
      return true;
  return false;
}

/* ---- who holds what: the system's handle table ------------------------- */

typedef struct {
  DWORD pid;
  int type;
  char name[ENTRY_MAX]; /* in the session directory */
} held;

typedef struct {
  held *v;
  size_t n, cap;
  bool ok; /* the snapshot was taken */
} held_list;

/* The handle table; the buffer grows until it fits (NULL on failure). */
static nt_handles *snapshot(const nt_api *nt) {
  ULONG cap = 1u << 20, ret = 0;
  for (int i = 0; i < 8; i++, cap *= 2) {
    nt_handles *h = malloc(cap);
    if (h == NULL)
      return NULL;
    nt_status st = nt->query_sys(SYS_EXTENDED_HANDLES, h, cap, &ret);
    if (st == 0)
      return h;
    free(h);
    if (st != NT_INFO_LENGTH_MISMATCH)
      return NULL;
  }
  return NULL;
}

/* Unnamed objects of each type we look for: their entries in the
 * snapshot give the types' indices, which Windows does not publish. */
typedef struct {
  HANDLE h[3];
  USHORT index[3];
} type_probes;

static void probes_open(type_probes *p) {
  p->h[0] = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                               4096, NULL);
  p->h[1] = CreateSemaphoreW(NULL, 0, 1, NULL);
  p->h[2] = CreateMutexW(NULL, FALSE, NULL);
  memset(p->index, 0, sizeof p->index);
}

static void probes_close(type_probes *p) {
  for (int i = 0; i < 3; i++)
    if (p->h[i] != NULL)
      CloseHandle(p->h[i]);
}

static bool probes_find(type_probes *p, const nt_handles *t, DWORD self) {
  int found = 0;
  for (ULONG_PTR i = 0; i < t->NumberOfHandles; i++) {
    const nt_handle *e = &t->Handles[i];
    for (int k = 0; k < 3; k++)
      if (e->UniqueProcessId == self && p->h[k] != NULL &&
          e->HandleValue == (ULONG_PTR)p->h[k]) {
        p->index[k] = e->ObjectTypeIndex;
        found++;
      }
  }
  return found == 3;
}

static int type_by_index(const type_probes *p, const nt_handle *e, DWORD self) {
  if (e->UniqueProcessId == self)
    for (int k = 0; k < 3; k++)
      if (e->HandleValue == (ULONG_PTR)p->h[k])
        return 0; /* a probe */
  for (int k = 0; k < 3; k++)
    if (e->ObjectTypeIndex == p->index[k])
      return k + 1; /* T_SECTION, T_SEMAPHORE, T_MUTANT */
  return 0;
}

/* A process to duplicate handles from, kept while its entries last (the
 * table lists each process's handles together). */
typedef struct {
  DWORD pid;
  HANDLE proc; /* NULL: may not be opened */
} dup_source;

static HANDLE source_for(dup_source *s, DWORD pid) {
  if (s->pid == pid)
    return s->proc;
  if (s->proc != NULL && s->proc != GetCurrentProcess())
    CloseHandle(s->proc);
  s->pid = pid;
  s->proc = pid == GetCurrentProcessId()
                ? GetCurrentProcess()
                : OpenProcess(PROCESS_DUP_HANDLE, FALSE, pid);
  return s->proc;
}

/* The name of handle `value` in process `proc`, as the leaf under dir;
 * false when it has none there or cannot be read. */
static bool handle_leaf(const nt_api *nt, HANDLE proc, ULONG_PTR value,
                        const WCHAR *dir, char *out) {
  HANDLE dup = NULL;
  if (!DuplicateHandle(proc, (HANDLE)value, GetCurrentProcess(), &dup, 0, FALSE,
                       0))
    return false;
  union {
    nt_ustr name;
    BYTE room[2048];
  } buf;
  ULONG ret = 0;
  nt_status st = nt->query_obj(dup, OBJ_NAME, &buf, sizeof buf, &ret);
  CloseHandle(dup);
  if (st != 0 || buf.name.Buffer == NULL)
    return false;
  size_t len = buf.name.Length / sizeof(WCHAR), dl = wcslen(dir);
  if (len <= dl + 1 || _wcsnicmp(buf.name.Buffer, dir, dl) != 0 ||
      buf.name.Buffer[dl] != L'\\')
    return false;
  return ascii_name(buf.name.Buffer + dl + 1, len - dl - 1, out, ENTRY_MAX);
}

static int add_held(held_list *l, DWORD pid, int type, const char *name) {
  int rc = grow((void **)&l->v, &l->cap, l->n, sizeof *l->v);
  if (rc != 0)
    return rc;
  held *h = &l->v[l->n++];
  h->pid = pid;
  h->type = type;
  memcpy(h->name, name, strlen(name) + 1);
  return 0;
}

static int scan_table(const nt_api *nt, const nt_handles *t,
                      const type_probes *p, const WCHAR *dir, held_list *l) {
  DWORD self = GetCurrentProcessId();
  dup_source src = {0, NULL};
  char name[ENTRY_MAX];
  int rc = 0;
  for (ULONG_PTR i = 0; rc == 0 && i < t->NumberOfHandles; i++) {
    const nt_handle *e = &t->Handles[i];
    int type = type_by_index(p, e, self);
    DWORD pid = (DWORD)e->UniqueProcessId;
    if (type == 0)
      continue;
    HANDLE proc = source_for(&src, pid);
    if (proc != NULL && handle_leaf(nt, proc, e->HandleValue, dir, name))
      rc = add_held(l, pid, type, name);
  }
  source_for(&src, 0);
  return rc;
}

/* Taken before this file opens any object, so that every handle of ours
 * in it is a real holder's. Without it (no snapshot), holders are unknown. */
static volatile LONG scan_forced; /* xipc__objects_os_holder_scan_for_testing */

bool xipc__objects_os_holder_scan_for_testing(bool on) {
  InterlockedExchange(&scan_forced, on ? 1 : 0);
  return true;
}

static int read_holders(const nt_api *nt, const WCHAR *dir, held_list *l) {
  /* Wine 8's wineserver crashed under this scan while processes started
   * and exited around it (ci/wine-probes/FINDINGS.md, A7): under Wine the
   * holders stay unknown, except for the test that forces the scan while
   * it runs alone. */
  if (!InterlockedCompareExchange(&scan_forced, 0, 0) &&
      GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version"))
    return 0;
  type_probes p;
  probes_open(&p);
  nt_handles *t = snapshot(nt);
  int rc = 0;
  if (t != NULL && probes_find(&p, t, GetCurrentProcessId())) {
    rc = scan_table(nt, t, &p, dir, l);
    l->ok = rc == 0;
  }
  free(t);
  probes_close(&p);
  return rc;
}

static int by_pid(const void *a, const void *b) {
  DWORD x = *(const DWORD *)a, y = *(const DWORD *)b;
  return (x > y) - (x < y);
}

/* The pids of the handles to (type, name), sorted, possibly repeated;
 * *count of them (NULL when there is none or no memory). */
static DWORD *holder_pids(const held_list *l, int type, const char *name,
                          size_t *count) {
  size_t n = 0;
  for (size_t i = 0; i < l->n; i++)
    n += l->v[i].type == type && strcmp(l->v[i].name, name) == 0;
  *count = n;
  DWORD *pids = n ? malloc(n * sizeof *pids) : NULL;
  if (pids == NULL)
    return NULL;
  for (size_t i = 0, k = 0; i < l->n; i++)
    if (l->v[i].type == type && strcmp(l->v[i].name, name) == 0)
      pids[k++] = l->v[i].pid;
  qsort(pids, n, sizeof *pids, by_pid);
  return pids;
}

/* Fills the holders of object (type, name), which we hold open as h (one
 * handle), ascending and without repeats: complete only when they are all
 * the handles the object has. Returns the object's handle count (ours
 * included; 0: unknown). */
static ULONG fill_holders(const nt_api *nt, const held_list *l, int type,
                          const char *name, HANDLE h, xipc_object_info *info) {
  nt_basic b;
  ULONG ret = 0;
  size_t handles = 0;
  info->holders_known = 0;
  info->nholders = 0;
  if (nt->query_obj(h, OBJ_BASIC, &b, sizeof b, &ret) != 0)
    return 0;
  DWORD *pids = l->ok ? holder_pids(l, type, name, &handles) : NULL;
  if (!l->ok || handles + 1 != b.HandleCount || (handles > 0 && !pids)) {
    free(pids);
    return b.HandleCount;
  }
  for (size_t i = 0; i < handles; i++) {
    if (i > 0 && pids[i] == pids[i - 1])
      continue;
    if (info->nholders < XIPC_OBJECT_HOLDERS_MAX)
      info->holders[info->nholders] = pids[i];
    info->nholders++;
  }
  info->holders_known = 1;
  free(pids);
  return b.HandleCount;
}

/* ---- the result list -------------------------------------------------- */

typedef struct {
  xipc_object_info *v;
  size_t n, cap;
} info_list;

static int add_info(info_list *l, const xipc_object_info *info) {
  int rc = grow((void **)&l->v, &l->cap, l->n, sizeof *l->v);
  if (rc == 0)
    l->v[l->n++] = *info;
  return rc;
}

static void info_init(xipc_object_info *info, const char *name, size_t len,
                      int kind) {
  memset(info, 0, sizeof *info);
  memcpy(info->name, name, len);
  info->name[len] = '\0';
  info->kind = kind;
  info->managed = 1;
}

/* The kernel object `name` of `type` opened with READ_CONTROL (sections
 * also for reading and NtQuerySection); NULL if it is gone, not ours or
 * not a kind we may open. */
static HANDLE open_object(int type, const char *name) {
  int err = 0;
  WCHAR *w = xipc__utf8_to_wide(name, &err);
  if (w == NULL)
    return NULL;
  HANDLE h = NULL;
  if (type == T_SECTION)
    h = OpenFileMappingW(FILE_MAP_READ | SECTION_QUERY | READ_CONTROL, FALSE,
                         w);
  else if (type == T_SEMAPHORE)
    h = OpenSemaphoreW(SYNCHRONIZE | READ_CONTROL, FALSE, w);
  else if (type == T_MUTANT)
    h = OpenMutexW(SYNCHRONIZE | READ_CONTROL, FALSE, w);
  free(w);
  if (h != NULL && xipc__check_owner(h, 0) != 0) {
    CloseHandle(h);
    h = NULL;
  }
  return h;
}

/* ---- sections: mappings and queues ---------------------------------------
 * The size record's layout, as win32/shm.c writes it. */
typedef struct {
  volatile LONG state; /* 1: size holds the creator's length */
  volatile LONG creator;
  volatile LONG64 size;
  volatile LONG64 created_ms;
} size_record;

/* From "<name>.xmsz": the creator's exact size, validated against the
 * section's rounded size as win32/shm.c does, its pid and the creation
 * time (shown only, so only checked for being positive). False without a
 * record: the object is another program's. */
static bool read_record(const char *name, xipc_object_info *info) {
  char rec[ENTRY_MAX];
  snprintf(rec, sizeof rec, "%s.xmsz", name);
  HANDLE h = open_object(T_SECTION, rec);
  if (h == NULL)
    return false;
  const size_record *r = MapViewOfFile(h, FILE_MAP_READ, 0, 0, sizeof *r);
  CloseHandle(h);
  if (r == NULL)
    return false;
  LONG state = r->state;
  MemoryBarrier(); /* the rest only after the state, as its writer stored */
  LONG64 exact = r->size, created = r->created_ms;
  LONG creator = r->creator;
  UnmapViewOfFile(r);
  if (state != 1)
    return true;
  uint64_t rounded = info->size;
  if (exact > 0 && (uint64_t)exact <= rounded &&
      rounded - (uint64_t)exact < 65536)
    info->size = (uint64_t)exact;
  info->creator = creator > 0 ? creator : 0;
  info->created_ms = created > 0 ? created : 0;
  return true;
}

/* Whether the section starts with a valid queue header. Only committed
 * pages are read: a foreign SEC_RESERVE section would fault. */
static int queue_kind(HANDLE h, uint64_t size) {
  size_t n = size < 65536 ? (size_t)size : 65536;
  const void *view = n ? MapViewOfFile(h, FILE_MAP_READ, 0, 0, n) : NULL;
  MEMORY_BASIC_INFORMATION mbi;
  int persistent = 0, kind = XIPC_OBJ_MAPPING;
  if (view == NULL)
    return kind;
  if (VirtualQuery(view, &mbi, sizeof mbi) == sizeof mbi &&
      mbi.State == MEM_COMMIT && mbi.RegionSize >= n &&
      xipc__queue_probe(view, n, size, &persistent) == 1)
    kind = persistent ? XIPC_OBJ_PERSISTENT_QUEUE : XIPC_OBJ_QUEUE;
  UnmapViewOfFile(view);
  return kind;
}

/* Whether section entry `name` is a mapping of its own rather than a part
 * of another object: size records, mutex states and listener locks are
 * parts, unless they have a size record themselves (a user mapping may be
 * called "a.xmsz"). */
static bool section_is_object(const dir_list *d, const char *name) {
  char rec[ENTRY_MAX];
  size_t base;
  if (xipc__check_name(name) != 0)
    return false;
  if (!ends_with(name, ".xmsz", &base) && !ends_with(name, ".xmst", &base) &&
      !ends_with(name, ".xlsn", &base))
    return true;
  snprintf(rec, sizeof rec, "%s.xmsz", name);
  return dir_has(d, T_SECTION, rec);
}

static int add_section(const nt_api *nt, const held_list *hl, const char *name,
                       info_list *out) {
  HANDLE h = open_object(T_SECTION, name);
  if (h == NULL)
    return 0;
  nt_section sb;
  xipc_object_info info;
  int rc = 0;
  info_init(&info, name, strlen(name), XIPC_OBJ_MAPPING);
  if (nt->query_sec(h, 0, &sb, sizeof sb, NULL) == 0 && sb.Size.QuadPart > 0) {
    info.size = (uint64_t)sb.Size.QuadPart;
    info.managed = read_record(name, &info);
    info.kind = queue_kind(h, info.size);
    if (fill_holders(nt, hl, T_SECTION, name, h, &info) != 1)
      rc = add_info(out, &info); /* else ours was its last handle: gone */
  }
  CloseHandle(h);
  return rc;
}

/* ---- semaphores and mutexes --------------------------------------------- */

static int add_sync(const nt_api *nt, const held_list *hl, const dir_entry *e,
                    info_list *out) {
  const char *suffix = e->type == T_SEMAPHORE ? ".xsem" : ".xmtx";
  size_t base;
  char name[ENTRY_MAX];
  if (!ends_with(e->name, suffix, &base))
    return 0; /* the queues' ".xq<N>" and other programs' objects */
  memcpy(name, e->name, base);
  name[base] = '\0';
  if (xipc__check_name(name) != 0)
    return 0;
  HANDLE h = open_object(e->type, e->name);
  if (h == NULL)
    return 0;
  xipc_object_info info;
  info_init(&info, name, base,
            e->type == T_SEMAPHORE ? XIPC_OBJ_SEMAPHORE : XIPC_OBJ_MUTEX);
  ULONG handles = fill_holders(nt, hl, e->type, e->name, h, &info);
  CloseHandle(h);
  return handles == 1 ? 0 : add_info(out, &info); /* 1: gone with ours */
}

/* ---- listeners: their lock sections ------------------------------------
 * A listener is the pipe \\.\pipe\xipc.<name> plus the lock section
 * "<name>.xlsn" that only the listener holds for long (win32/listen.c). Its
 * record, as win32/listen.c writes it: */
typedef struct {
  uint32_t magic, version, size;
  volatile LONG state; /* 1: live */
  uint32_t pid;        /* the listener's process */
} lock_record;
#define LOCK_MAGIC 0x4e534c58u /* "XLSN" */

/* The listening pid from a live lock's record (read once, then checked);
 * 0 if the record is not one. */
static DWORD lock_pid(HANDLE h) {
  const lock_record *v = MapViewOfFile(h, FILE_MAP_READ, 0, 0, sizeof *v);
  MEMORY_BASIC_INFORMATION mbi;
  lock_record r = {0, 0, 0, 0, 0};
  if (v == NULL)
    return 0;
  if (VirtualQuery(v, &mbi, sizeof mbi) == sizeof mbi &&
      mbi.State == MEM_COMMIT && mbi.RegionSize >= sizeof r)
    memcpy(&r, (const void *)v, sizeof r);
  UnmapViewOfFile(v);
  bool ok = r.magic == LOCK_MAGIC && r.version >= 1 && r.size >= sizeof r &&
            r.state == 1 && r.pid != 0;
  return ok ? r.pid : 0;
}

/* Listed whether or not Windows can list pipes (Wine 8 cannot): the lock
 * says who listens and has an owner to check. */
static int add_listener(const nt_api *nt, const held_list *hl,
                        const dir_entry *e, info_list *out) {
  size_t base;
  char name[ENTRY_MAX];
  if (!ends_with(e->name, ".xlsn", &base))
    return 0;
  memcpy(name, e->name, base);
  name[base] = '\0';
  HANDLE h =
      xipc__check_name(name) == 0 ? open_object(T_SECTION, e->name) : NULL;
  if (h == NULL)
    return 0;
  xipc_object_info info;
  info_init(&info, name, base, XIPC_OBJ_LISTENER);
  DWORD pid = lock_pid(h);
  info.creator = pid;
  ULONG handles = pid ? fill_holders(nt, hl, T_SECTION, e->name, h, &info) : 1;
  CloseHandle(h);
  return handles == 1 ? 0 : add_info(out, &info); /* 1: gone with ours */
}

static int list_kernel(const nt_api *nt, info_list *out) {
  WCHAR dir[64];
  dir_list d = {NULL, 0, 0};
  held_list hl = {NULL, 0, 0, false};
  session_dir(dir, sizeof dir / sizeof dir[0]);
  int rc = read_directory(nt, dir, &d);
  if (rc == 0)
    rc = read_holders(nt, dir, &hl);
  for (size_t i = 0; rc == 0 && i < d.n; i++) {
    const dir_entry *e = &d.v[i];
    if (e->type == T_SECTION && section_is_object(&d, e->name))
      rc = add_section(nt, &hl, e->name, out);
    else if (e->type == T_SECTION)
      rc = add_listener(nt, &hl, e, out);
    else
      rc = add_sync(nt, &hl, e, out);
  }
  free(d.v);
  free(hl.v);
  return rc;
}

/* ---- persistent queues: files ------------------------------------------ */

/* FILETIME (100 ns since 1601) -> ms since 1970. */
static int64_t unix_ms(FILETIME ft) {
  uint64_t t = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
  return (int64_t)(t / 10000) - INT64_C(11644473600000);
}

/* A file that a holder maps cannot be opened without sharing. */
static bool file_in_use(const WCHAR *path) {
  HANDLE f = CreateFileW(path, READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (f == INVALID_HANDLE_VALUE)
    return GetLastError() == ERROR_SHARING_VIOLATION;
  CloseHandle(f);
  return false;
}

/* Fills info from the file's header, size and times; false if it is not
 * a persistent queue of ours. */
static bool read_store_file(const WCHAR *path, xipc_object_info *info) {
  HANDLE f = CreateFileW(path, GENERIC_READ | READ_CONTROL,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, OPEN_EXISTING, 0, NULL);
  if (f == INVALID_HANDLE_VALUE)
    return false;
  unsigned char head[512];
  DWORD got = 0;
  BY_HANDLE_FILE_INFORMATION fi;
  int persistent = 0;
  bool ok = xipc__check_owner(f, 0) == 0 &&
            GetFileInformationByHandle(f, &fi) &&
            ReadFile(f, head, sizeof head, &got, NULL);
  CloseHandle(f);
  if (!ok)
    return false;
  info->size = (uint64_t)fi.nFileSizeHigh << 32 | fi.nFileSizeLow;
  info->created_ms = unix_ms(fi.ftCreationTime);
  return xipc__queue_probe(head, got, info->size, &persistent) == 1 &&
         persistent;
}

/* xipc__qstore_unlink leaves "<name>.deleted.<pid>.<ns>" behind while the
 * old file is still mapped somewhere. */
static bool deleted_leftover(const char *name) {
  const char *d = strstr(name, ".deleted.");
  return d != NULL && d[9] >= '0' && d[9] <= '9';
}

static int add_store_file(const WCHAR *dir, const WIN32_FIND_DATAW *fd,
                          info_list *out) {
  char name[XIPC_NAME_MAX + 1];
  if (fd->dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
    return 0;
  if (!ascii_name(fd->cFileName, wcslen(fd->cFileName), name, sizeof name) ||
      xipc__check_name(name) != 0 || deleted_leftover(name))
    return 0;
  size_t cap = wcslen(dir) + wcslen(fd->cFileName) + 1;
  WCHAR *path = malloc(cap * sizeof *path);
  if (path == NULL)
    return xipc__fail(XIPC_ENOMEM);
  _snwprintf(path, cap, L"%ls%ls", dir, fd->cFileName);
  path[cap - 1] = 0;
  xipc_object_info info;
  info_init(&info, name, strlen(name), XIPC_OBJ_PERSISTENT_QUEUE);
  info.managed = 0; /* stays until removed: never stale */
  int rc = 0;
  if (read_store_file(path, &info)) {
    info.holders_known = !file_in_use(path); /* then no holder at all */
    rc = add_info(out, &info);
  }
  free(path);
  return rc;
}

static int list_store(info_list *out) {
  WCHAR *dir = NULL;
  int rc = xipc__qstore_path("", false, &dir);
  if (rc != 0)
    return 0; /* no profile directory: no persistent queue either */
  size_t cap = wcslen(dir) + 2;
  WCHAR *pattern = malloc(cap * sizeof *pattern);
  if (pattern == NULL) {
    free(dir);
    return xipc__fail(XIPC_ENOMEM);
  }
  _snwprintf(pattern, cap, L"%ls*", dir);
  pattern[cap - 1] = 0;
  WIN32_FIND_DATAW fd;
  HANDLE f = FindFirstFileW(pattern, &fd);
  for (bool more = f != INVALID_HANDLE_VALUE; rc == 0 && more;
       more = FindNextFileW(f, &fd))
    rc = add_store_file(dir, &fd, out);
  if (f != INVALID_HANDLE_VALUE)
    FindClose(f);
  free(pattern);
  free(dir);
  return rc;
}

/* ---- the tree's interface ----------------------------------------------- */

int xipc__objects_list_os(xipc_object_info **out, size_t *n) {
  nt_api nt;
  info_list l = {NULL, 0, 0};
  *out = NULL;
  *n = 0;
  int rc = nt_load(&nt);
  if (rc == 0)
    rc = list_kernel(&nt, &l);
  if (rc == 0)
    rc = list_store(&l);
  if (rc != 0) {
    free(l.v);
    return rc;
  }
  *out = l.v;
  *n = l.n;
  return 0;
}

/* The owner of the queue's file, checked on a handle that shares nothing
 * without FORCE: a process that maps the queue makes that open fail (busy). */
static int store_check(const char *name, unsigned flags) {
  WCHAR *path = NULL;
  int rc = xipc__qstore_path(name, false, &path);
  if (rc != 0)
    return rc;
  DWORD share = (flags & XIPC_REMOVE_FORCE)
                    ? FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
                    : 0;
  HANDLE f =
      CreateFileW(path, READ_CONTROL, share, NULL, OPEN_EXISTING, 0, NULL);
  free(path);
  if (f == INVALID_HANDLE_VALUE)
    return GetLastError() == ERROR_SHARING_VIOLATION ? xipc__fail(XIPC_EBUSY)
                                                     : xipc__fail_os();
  rc = xipc__check_owner(f, 0);
  CloseHandle(f);
  return rc;
}

/* Kernel objects (and pipes) lose their name only with their last handle:
 * Windows has no call to remove it. A persistent queue's file is removed
 * (with FORCE also while mapped: holders keep their view). */
int xipc__object_remove_os(const xipc_object_info *info, unsigned flags) {
  if (info->kind != XIPC_OBJ_PERSISTENT_QUEUE)
    return xipc__fail(XIPC_ENOTSUP);
  int rc = store_check(info->name, flags);
  return rc != 0 ? rc : xipc__qstore_unlink(info->name);
}
