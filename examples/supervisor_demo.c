/* supervisor_demo: a supervisor that waits on everything at once with one
 * waitset, the same code on Linux and Windows.
 *
 *   supervisor_demo [NAME]             runs the supervisor (NAME: its control
 *                                      endpoint, default "supervisor-demo")
 *   supervisor_demo ctl NAME CMD...    a control client: sends each CMD
 *                                      ("status" or "stop") and prints the
 *                                      reply
 *
 * The supervisor creates the queues NAME.jobs and NAME.results, listens on
 * the endpoint NAME, starts two workers (this program again, with
 * "worker"), puts 8 jobs and then waits in one waitset for: the workers'
 * exits, results on NAME.results, control clients (the listener and each
 * accepted connection), SIGINT and SIGTERM, and a timer for a status line
 * on stderr every second. A worker waits in a waitset of its own for jobs,
 * SIGTERM, and the end of a pipe whose other end the supervisor holds (the
 * supervisor's "lifeline": if the supervisor dies, even by SIGKILL, the
 * pipe breaks and the worker exits).
 *
 * "stop" from a control client, SIGTERM or Ctrl+C (SIGINT) stops it
 * cleanly: the supervisor shuts the job queue down, the workers drain it
 * and exit, the supervisor reports their exit codes (in worker order),
 * closes everything, checks that its named objects are gone and exits 0.
 * Workers that are still running 10 s after the stop get SIGTERM, and
 * 5 s later are killed. stdout is a transcript that does not depend on
 * timing when the stop comes after the results (ci/lib.sh checks it);
 * the status lines go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#define WORKERS 2
#define JOBS 8
#define CLIENTS 4      /* control connections at a time */
#define MSG_MAX 256    /* a job, a result, a request or a reply */
#define STATUS_MS 1000 /* the status line on stderr */
#define GRACE_MS 10000 /* after a stop, until the workers get SIGTERM */
#define KILL_MS 5000   /* after that SIGTERM, until they are killed */
#define IO_MS 10000    /* bound of every blocking call */

static int failed(const char *what, int err) {
  fprintf(stderr, "supervisor_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* ---- a worker ------------------------------------------------------------ */

/* The entries of a worker's waitset are named by these addresses. */
static char w_jobs, w_sigterm, w_lifeline;

typedef struct {
  xipc_queue *jobs, *results;
  xipc_stream *lifeline; /* read end; the supervisor holds the write end */
  xipc_waitset *w;
  int exit_code; /* -1 while working */
} worker_state;

/* Takes every job that is there now and puts its result ("JOB RESULT"). */
static int do_jobs(worker_state *ws) {
  char msg[MSG_MAX + 1];
  size_t len;
  for (;;) {
    int rc = xipc_queue_get(ws->jobs, msg, MSG_MAX, &len, 0);
    if (rc == XIPC_EAGAIN) /* the other worker was faster */
      return 0;
    if (rc == XIPC_ECLOSED) { /* shut down and drained: done */
      ws->exit_code = 0;
      return 0;
    }
    if (rc != 0)
      return failed("worker: get", rc);
    msg[len] = '\0';
    long job = atol(msg);
    snprintf(msg, sizeof msg, "%ld %ld", job, job * job);
    rc = xipc_queue_put(ws->results, msg, strlen(msg), IO_MS);
    if (rc != 0)
      return failed("worker: put", rc);
  }
}

/* The supervisor never writes to the lifeline: anything but "nothing yet"
 * (end of stream, an error) means that its write end is gone. */
static int lifeline_broken(xipc_stream *lifeline) {
  char byte;
  size_t n;
  return xipc_stream_read(lifeline, &byte, 1, &n, 0) != XIPC_EAGAIN;
}

static int worker_event(worker_state *ws, const xipc_wait_event *e) {
  if (e->user == &w_jobs)
    return do_jobs(ws);
  if (e->user == &w_sigterm)
    ws->exit_code = 2; /* stopped before the queue was drained */
  else if (e->user == &w_lifeline && lifeline_broken(ws->lifeline)) {
    fprintf(stderr, "supervisor_demo: worker: the supervisor is gone\n");
    ws->exit_code = 3;
  }
  return 0;
}

static int worker_loop(worker_state *ws) {
  const int sigterm[] = {XIPC_SIGTERM};
  int rc = xipc_waitset_open(&ws->w);
  if (rc == 0)
    rc = xipc_waitset_add_queue(ws->w, ws->jobs, XIPC_WAIT_READABLE, &w_jobs);
  if (rc == 0)
    rc = xipc_waitset_add_signals(ws->w, sigterm, 1, &w_sigterm);
  if (rc == 0)
    rc = xipc_waitset_add_stream(ws->w, ws->lifeline, XIPC_WAIT_READABLE,
                                 &w_lifeline);
  if (rc != 0)
    return failed("worker: waitset", rc);
  while (ws->exit_code < 0) {
    xipc_wait_event ev[4];
    size_t n;
    rc = xipc_waitset_wait(ws->w, ev, 4, &n, -1);
    if (rc != 0)
      return failed("worker: wait", rc);
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = worker_event(ws, &ev[i]);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* worker NAME TOKEN: TOKEN is the lifeline's read end (xipc_stream_export). */
static int worker_main(const char *name, const char *token) {
  char qname[XIPC_NAME_MAX + 1];
  worker_state ws = {NULL, NULL, NULL, NULL, -1};
  int rc = xipc_stream_import(&ws.lifeline, token);
  snprintf(qname, sizeof qname, "%s.jobs", name);
  if (rc == 0)
    rc = xipc_queue_open(&ws.jobs, qname, NULL, 0);
  snprintf(qname, sizeof qname, "%s.results", name);
  if (rc == 0)
    rc = xipc_queue_open(&ws.results, qname, NULL, 0);
  rc = rc != 0 ? failed("worker: open", rc) : worker_loop(&ws);
  if (ws.w)
    xipc_waitset_close(ws.w); /* first: the objects in it cannot be closed */
  if (ws.jobs)
    xipc_queue_close(ws.jobs);
  if (ws.results)
    xipc_queue_close(ws.results);
  if (ws.lifeline)
    xipc_stream_close(ws.lifeline);
  return rc != 0 ? 1 : ws.exit_code;
}

/* ---- the control client -------------------------------------------------- */

static int ctl_main(const char *name, int n, char **cmds) {
  xipc_stream *s;
  int rc = xipc_connect_ex(&s, name, XIPC_CONNECT_WAIT, IO_MS);
  if (rc != 0)
    return failed("ctl: connect", rc);
  for (int i = 0; i < n && rc == 0; i++) {
    char reply[MSG_MAX + 1];
    size_t len = 0;
    rc = xipc_stream_send(s, cmds[i], strlen(cmds[i]), IO_MS);
    if (rc == 0)
      rc = xipc_stream_recv(s, reply, MSG_MAX, &len, IO_MS);
    if (rc != 0)
      break;
    reply[len] = '\0';
    printf("ctl: \"%s\" -> \"%s\"\n", cmds[i], reply);
  }
  xipc_stream_close(s);
  return rc != 0 ? failed("ctl", rc) : 0;
}

/* ---- the supervisor ------------------------------------------------------ */

/* The entries of the supervisor's waitset: these addresses, a worker's
 * record and a client's record. */
static char s_results, s_listener, s_signals, s_status, s_grace;

typedef struct {
  xipc_proc *p;
  xipc_stream *lifeline; /* write end */
  int running;
  xipc_exit_status st;
} worker;

typedef struct {
  xipc_stream *s; /* NULL: free */
} client;

typedef struct {
  const char *name;
  char jobs_name[XIPC_NAME_MAX + 1], results_name[XIPC_NAME_MAX + 1];
  xipc_waitset *w;
  xipc_queue *jobs, *results;
  xipc_listener *l;
  worker wk[WORKERS];
  client cl[CLIENTS];
  int running, results_in, stopping, grace_stage;
  long sum;
} supervisor;

static void status_text(const supervisor *s, char *buf, size_t cap) {
  snprintf(buf, cap, "%d of %d results, %d workers running", s->results_in,
           JOBS, s->running);
}

/* Takes every result that is there now. */
static int take_results(supervisor *s) {
  char msg[MSG_MAX + 1];
  size_t len;
  long job, square;
  int rc;
  while ((rc = xipc_queue_get(s->results, msg, MSG_MAX, &len, 0)) == 0) {
    msg[len] = '\0';
    if (sscanf(msg, "%ld %ld", &job, &square) != 2 || square != job * job)
      return failed("a wrong result", XIPC_ECORRUPT);
    s->sum += square;
    if (++s->results_in == JOBS)
      printf("supervisor: all %d results in, sum of squares %ld\n", JOBS,
             s->sum);
  }
  fflush(stdout);
  return rc == XIPC_EAGAIN ? 0 : failed("get result", rc);
}

/* Stops: no more jobs; the workers drain the queue and exit. */
static int begin_stop(supervisor *s, const char *why) {
  if (s->stopping)
    return 0;
  s->stopping = 1;
  int rc = xipc_queue_shutdown(s->jobs);
  if (rc == 0)
    rc = xipc_waitset_add_timer(s->w, GRACE_MS, 0, &s_grace);
  if (rc != 0)
    return failed("stop", rc);
  printf("supervisor: stop (%s): job queue shut down, waiting for the "
         "workers\n",
         why);
  fflush(stdout);
  return 0;
}

/* The grace timer: SIGTERM to workers still running, then SIGKILL. */
static int on_grace(supervisor *s) {
  int sig = s->grace_stage++ == 0 ? XIPC_SIGTERM : XIPC_SIGKILL;
  for (int i = 0; i < WORKERS; i++)
    if (s->wk[i].running) {
      printf("supervisor: worker %d still running: %s\n", i + 1,
             xipc_signal_name(sig));
      xipc_proc_signal(s->wk[i].p, sig);
    }
  fflush(stdout);
  if (sig == XIPC_SIGKILL)
    return 0;
  return xipc_waitset_add_timer(s->w, KILL_MS, 0, &s_grace);
}

/* A worker's exit event: collects its status. */
static int reap(supervisor *s, int i) {
  worker *k = &s->wk[i];
  int rc = xipc_proc_wait(k->p, 0, &k->st);
  if (rc == XIPC_EAGAIN) /* spurious */
    return 0;
  if (rc == 0)
    rc = xipc_waitset_remove(s->w, k);
  if (rc != 0)
    return failed("reap", rc);
  k->running = 0;
  s->running--;
  if (!s->stopping) {
    printf("supervisor: worker %d ended before the stop\n", i + 1);
    return begin_stop(s, "a worker ended");
  }
  return 0;
}

static int accept_client(supervisor *s) {
  xipc_stream *c;
  int rc = xipc_accept(s->l, &c, 0);
  if (rc == XIPC_EAGAIN) /* spurious (say, a client of another user) */
    return 0;
  if (rc != 0)
    return failed("accept", rc);
  for (int i = 0; i < CLIENTS; i++)
    if (s->cl[i].s == NULL) {
      rc = xipc_waitset_add_stream(s->w, c, XIPC_WAIT_READABLE, &s->cl[i]);
      if (rc != 0)
        break;
      s->cl[i].s = c;
      return 0;
    }
  xipc_stream_close(c); /* too many clients: it reads end of stream */
  return rc != 0 ? failed("add client", rc) : 0;
}

static void drop_client(supervisor *s, client *c) {
  xipc_waitset_remove(s->w, c);
  xipc_stream_close(c->s);
  c->s = NULL;
}

/* Answers one request of client c, if one is there. */
static int serve_client(supervisor *s, client *c) {
  char req[MSG_MAX + 1], reply[MSG_MAX];
  size_t len = 0;
  int rc = xipc_stream_recv(c->s, req, MSG_MAX, &len, 0);
  if (rc == XIPC_EAGAIN)
    return 0;
  if (rc != 0) { /* it left (XIPC_ECLOSED), or sent garbage */
    drop_client(s, c);
    return 0;
  }
  req[len] = '\0';
  if (strcmp(req, "status") == 0)
    status_text(s, reply, sizeof reply);
  else if (strcmp(req, "stop") == 0)
    strcpy(reply, s->stopping ? "stopping already" : "stopping");
  else
    strcpy(reply, "unknown request (status, stop)");
  printf("supervisor: control: \"%s\" -> \"%s\"\n", req, reply);
  fflush(stdout);
  if (xipc_stream_send(c->s, reply, strlen(reply), IO_MS) != 0)
    drop_client(s, c);
  return strcmp(req, "stop") == 0 ? begin_stop(s, "control") : 0;
}

static int on_event(supervisor *s, const xipc_wait_event *e) {
  char line[MSG_MAX];
  if (e->user == &s_results)
    return take_results(s);
  if (e->user == &s_listener)
    return accept_client(s);
  if (e->user == &s_signals)
    return begin_stop(s, xipc_signal_name(e->sig));
  if (e->user == &s_grace)
    return on_grace(s);
  if (e->user == &s_status) {
    status_text(s, line, sizeof line);
    fprintf(stderr, "supervisor: status: %s\n", line);
    return 0;
  }
  for (int i = 0; i < WORKERS; i++)
    if (e->user == &s->wk[i])
      return reap(s, i);
  for (int i = 0; i < CLIENTS; i++)
    if (e->user == &s->cl[i])
      return serve_client(s, &s->cl[i]);
  return 0;
}

/* Starts worker i: this program with "worker NAME TOKEN", in a process
 * group of its own (a Ctrl+C reaches only the supervisor, which stops the
 * workers in order), passed the read end of its lifeline. */
static int start_worker(supervisor *s, const char *self, int i) {
  xipc_stream *r = NULL;
  char token[XIPC_STREAM_TOKEN_MAX] = "";
  xipc_spawn_options o = {0};
  int rc = xipc_pipe(&r, &s->wk[i].lifeline);
  if (rc == 0)
    rc = xipc_stream_export(r, token, sizeof token);
  const char *argv[] = {self, "worker", s->name, token, NULL};
  o.flags = XIPC_SPAWN_NEW_GROUP;
  o.pass = &r;
  o.npass = 1;
  if (rc == 0)
    rc = xipc_proc_spawn(&s->wk[i].p, argv, &o);
  if (r != NULL)
    xipc_stream_close(r); /* the worker has its own copy */
  if (rc == 0)
    rc = xipc_waitset_add_proc(s->w, s->wk[i].p, &s->wk[i]);
  if (rc != 0)
    return failed("start worker", rc);
  s->wk[i].running = 1;
  s->running++;
  return 0;
}

static int put_jobs(supervisor *s) {
  for (int job = 1; job <= JOBS; job++) {
    char msg[32];
    snprintf(msg, sizeof msg, "%d", job);
    int rc = xipc_queue_put(s->jobs, msg, strlen(msg), IO_MS);
    if (rc != 0)
      return failed("put job", rc);
  }
  return 0;
}

/* Opens the queues, the endpoint and the waitset with every entry but the
 * workers. */
static int set_up(supervisor *s) {
  const int stop_sigs[] = {XIPC_SIGINT, XIPC_SIGTERM};
  xipc_queue_options qo = {0};
  qo.max_message = MSG_MAX;
  snprintf(s->jobs_name, sizeof s->jobs_name, "%s.jobs", s->name);
  snprintf(s->results_name, sizeof s->results_name, "%s.results", s->name);
  int rc = xipc_listen(&s->l, s->name, NULL);
  if (rc == XIPC_EEXIST)
    fprintf(stderr, "supervisor_demo: another supervisor serves %s\n",
            s->name);
  if (rc == 0)
    rc = xipc_queue_open(&s->jobs, s->jobs_name, &qo,
                         XIPC_CREATE | XIPC_EXCL);
  if (rc == 0)
    rc = xipc_queue_open(&s->results, s->results_name, &qo,
                         XIPC_CREATE | XIPC_EXCL);
  if (rc == 0)
    rc = xipc_waitset_open(&s->w);
  if (rc == 0)
    rc = xipc_waitset_add_queue(s->w, s->results, XIPC_WAIT_READABLE,
                                &s_results);
  if (rc == 0)
    rc = xipc_waitset_add_listener(s->w, s->l, &s_listener);
  if (rc == 0)
    rc = xipc_waitset_add_signals(s->w, stop_sigs, 2, &s_signals);
  if (rc == 0)
    rc = xipc_waitset_add_timer(s->w, STATUS_MS, STATUS_MS, &s_status);
  return rc != 0 ? failed("set up", rc) : 0;
}

static int run(supervisor *s) {
  while (!(s->stopping && s->running == 0)) {
    xipc_wait_event ev[8];
    size_t n;
    int rc = xipc_waitset_wait(s->w, ev, 8, &n, -1);
    if (rc != 0)
      return failed("wait", rc);
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = on_event(s, &ev[i]);
    if (rc != 0)
      return rc;
  }
  return take_results(s); /* what the last wait did not report */
}

/* Prints each worker's end; 0 if every one exited with code 0. */
static int report_workers(const supervisor *s) {
  int bad = 0;
  for (int i = 0; i < WORKERS; i++) {
    const xipc_exit_status *st = &s->wk[i].st;
    if (s->wk[i].p == NULL || s->wk[i].running)
      bad = 1; /* not started, or not reaped after a failure */
    else if (st->exited)
      printf("supervisor: worker %d exited with code %d\n", i + 1,
             st->exit_code);
    else
      printf("supervisor: worker %d ended by %s\n", i + 1,
             xipc_signal_name(st->signal));
    bad |= !st->exited || st->exit_code != 0;
  }
  return bad;
}

/* Closes everything (the waitset first: objects in it cannot be closed). */
static void tear_down(supervisor *s) {
  if (s->w)
    xipc_waitset_close(s->w);
  for (int i = 0; i < CLIENTS; i++)
    if (s->cl[i].s)
      xipc_stream_close(s->cl[i].s);
  for (int i = 0; i < WORKERS; i++) {
    if (s->wk[i].p && s->wk[i].running)
      xipc_proc_kill(s->wk[i].p); /* only after a failure */
    if (s->wk[i].p)
      xipc_proc_close(s->wk[i].p);
    if (s->wk[i].lifeline)
      xipc_stream_close(s->wk[i].lifeline);
  }
  if (s->l)
    xipc_listener_close(s->l);
  if (s->jobs)
    xipc_queue_close(s->jobs);
  if (s->results)
    xipc_queue_close(s->results);
}

/* 0 if the queues and the endpoint are gone after tear_down: scratch
 * queues die with their last handle, the endpoint with its listener. */
static int check_gone(const supervisor *s) {
  const char *names[] = {s->jobs_name, s->results_name, s->name};
  xipc_object_info info;
  int left = 0;
  for (int i = 0; i < 3; i++) {
    int rc = xipc_object_stat(names[i], 0, &info);
    if (rc == 0)
      printf("supervisor: %s is still there\n", names[i]);
    else if (rc != XIPC_ENOENT)
      failed("xipc_object_stat", rc);
    left |= rc != XIPC_ENOENT;
  }
  return left;
}

static int supervisor_main(const char *self, const char *name) {
  supervisor s;
  memset(&s, 0, sizeof s);
  s.name = name;
  int rc = set_up(&s);
  for (int i = 0; i < WORKERS && rc == 0; i++)
    rc = start_worker(&s, self, i);
  if (rc == 0)
    rc = put_jobs(&s);
  if (rc == 0) {
    printf("supervisor: pid %lld, control endpoint %s, queues %s and %s\n",
           (long long)xipc_self_pid(), name, s.jobs_name, s.results_name);
    printf("supervisor: started %d workers, put %d jobs\n", WORKERS, JOBS);
    fflush(stdout);
    rc = run(&s);
  }
  int bad = report_workers(&s);
  bad |= rc != 0 || s.results_in != JOBS;
  tear_down(&s);
  bad |= check_gone(&s);
  printf("supervisor: %d of %d results, closed the queues and the endpoint, "
         "exit %d\n",
         s.results_in, JOBS, bad);
  return bad;
}

int main(int argc, char **argv) {
  char self[4096];
  char **args;
  int rc = xipc_args_utf8(argc, argv, &args);
  if (rc != 0)
    return failed("arguments", rc);
  if (argc == 4 && strcmp(args[1], "worker") == 0)
    return worker_main(args[2], args[3]);
  if (argc >= 4 && strcmp(args[1], "ctl") == 0)
    return ctl_main(args[2], argc - 3, args + 3);
  if (argc > 2 || (argc == 2 && args[1][0] == '-')) {
    fprintf(stderr, "usage: supervisor_demo [NAME]\n"
                    "       supervisor_demo ctl NAME status|stop...\n");
    return 2;
  }
  rc = xipc_exe_path(self, sizeof self, NULL);
  if (rc != 0)
    return failed("xipc_exe_path", rc);
  return supervisor_main(self, argc == 2 ? args[1] : "supervisor-demo");
}
