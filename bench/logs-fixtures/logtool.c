// logtool: the three small programs of bench/logs, in one static binary.
//
//   logtool write N [LEN [BASE]]  N lines of LEN bytes (default 100, "\n" included) to
//                                 stdout, as fast as write(2) takes them. Line i starts
//                                 "SEQ=%010u " with BASE+i (BASE default 0) so a receiver
//                                 can tell lost and duplicated lines apart.
//   logtool follow FILE N OUT     follows FILE from its start (waits for it to appear;
//                                 across renames by rotation) until N lines were written,
//                                 then writes "DONE_US LINES" to OUT (DONE_US: microseconds
//                                 since the epoch).
//   logtool sink PORT N R OUT     TCP server on 127.0.0.1:PORT for R rounds of N lines
//                                 (round r sends SEQ= r*N .. r*N+N-1): counts the lines and
//                                 bytes of every connection (logstash json_lines), the
//                                 duplicates, and per round the distinct SEQ= numbers and
//                                 when the last one arrived. Keeps OUT up to date (every
//                                 20 ms and at once when a round completes) with
//                                 "LINES BYTES DUPS CONNS" then "UNIQUE DONE_US" per round
//                                 (DONE_US 0 until complete). Runs until SIGTERM/SIGINT,
//                                 then lists the first 20 missing ranges in OUT.missing.
//
// Reads are 1 MiB at a time and lines are found with memchr, so the counting side costs
// far less CPU than the shipping it measures.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char* what) {
  fprintf(stderr, "logtool: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// Writes "text" to path atomically (a reader never sees half a line).
static void put_file(const char* path, const char* text) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(tmp);
  if (write_all(fd, text, strlen(text)) < 0) die(tmp);
  close(fd);
  if (rename(tmp, path) < 0) die(path);
}

static int cmd_write(uint64_t n, size_t len, uint64_t base) {
  if (len < 16) len = 16;
  // Whole lines only: a 64 KiB-ish buffer of them per write(2).
  size_t per = (64 * 1024) / len;
  if (per == 0) per = 1;
  char* buf = malloc(per * len);
  if (!buf) die("malloc");
  for (size_t k = 0; k < per; k++) {
    memset(buf + k * len, 'x', len - 1);
    buf[k * len + len - 1] = '\n';
  }
  uint64_t i = 0;
  while (i < n) {
    size_t k = 0;
    for (; k < per && i < n; k++, i++) {
      char head[32];
      snprintf(head, sizeof head, "SEQ=%010llu", (unsigned long long)(base + i));
      memcpy(buf + k * len, head, 14);
      buf[k * len + 14] = ' ';
    }
    if (write_all(1, buf, k * len) < 0) die("write");
  }
  return 0;
}

// Follows a log that may be rotated by rename (FILE → FILE.1, a new FILE): at EOF, when
// FILE is another inode now, the old one is read to its end (the open fd keeps it even
// when rotation deletes it) and FILE is opened anew.
static int cmd_follow(const char* path, uint64_t n, const char* out) {
  int fd;
  while ((fd = open(path, O_RDONLY)) < 0) {
    if (errno != ENOENT) die(path);
    usleep(2000);
  }
  char* buf = malloc(CHUNK);
  if (!buf) die("malloc");
  uint64_t lines = 0;
  while (lines < n) {
    ssize_t r = read(fd, buf, CHUNK);
    if (r < 0) {
      if (errno == EINTR) continue;
      die(path);
    }
    if (r == 0) {
      struct stat a, b;
      if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
        // Rotated: anything written before the rename was read above (EOF on the old inode
        // and it no longer grows), so switch.
        int nfd = open(path, O_RDONLY);
        if (nfd >= 0) {
          // One more read of the old inode: a write may have landed between read and stat.
          for (;;) {
            ssize_t r2 = read(fd, buf, CHUNK);
            if (r2 <= 0) break;
            for (char *p = buf, *e = buf + r2; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++) lines++;
          }
          close(fd);
          fd = nfd;
          continue;
        }
      }
      usleep(2000);
      continue;
    }
    for (char *p = buf, *e = buf + r; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++) lines++;
  }
  char text[128];
  snprintf(text, sizeof text, "%llu %llu\n", (unsigned long long)now_us(), (unsigned long long)lines);
  put_file(out, text);
  return 0;
}

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig) {
  (void)sig;
  stop_flag = 1;
}

struct conn {
  int fd;
  char* part;  // an incomplete line carried over to the next read
  size_t part_len;
};

enum { MAX_ROUNDS = 64 };
struct counts {
  uint64_t n, rounds, lines, bytes, dups, conns;
  uint64_t unique[MAX_ROUNDS], done_us[MAX_ROUNDS];
  int changed;  // a round completed since the last status write
  uint8_t* seen;
};

static void count_line(struct counts* c, const char* p, size_t len) {
  c->lines++;
  c->bytes += len + 1;
  const char* s = memmem(p, len, "SEQ=", 4);
  if (!s || (size_t)(p + len - s) < 14) return;
  uint64_t v = 0;
  for (int k = 4; k < 14; k++) {
    if (s[k] < '0' || s[k] > '9') return;
    v = v * 10 + (uint64_t)(s[k] - '0');
  }
  if (v >= c->n * c->rounds) return;
  if (c->seen[v >> 3] & (1u << (v & 7))) {
    c->dups++;
    return;
  }
  c->seen[v >> 3] |= (uint8_t)(1u << (v & 7));
  uint64_t r = v / c->n;
  if (++c->unique[r] == c->n) {
    c->done_us[r] = now_us();
    c->changed = 1;
  }
}

static void write_status(struct counts* c, const char* out) {
  char text[64 + MAX_ROUNDS * 48];
  int off = snprintf(text, sizeof text, "%llu %llu %llu %llu", (unsigned long long)c->lines,
                     (unsigned long long)c->bytes, (unsigned long long)c->dups, (unsigned long long)c->conns);
  for (uint64_t r = 0; r < c->rounds; r++)
    off += snprintf(text + off, sizeof text - (size_t)off, " %llu %llu", (unsigned long long)c->unique[r],
                    (unsigned long long)c->done_us[r]);
  snprintf(text + off, sizeof text - (size_t)off, "\n");
  put_file(out, text);
  c->changed = 0;
}

// At the end: OUT.missing lists the first 20 ranges of sequence numbers never received
// ("FIRST-LAST" per line), for a report on where lines were lost.
static void write_missing(const struct counts* c, const char* out) {
  char path[4096], text[20 * 48 + 1] = "";
  size_t off = 0;
  int ranges = 0;
  uint64_t total = c->n * c->rounds;
  for (uint64_t v = 0; v < total && ranges < 20;) {
    if (c->seen[v >> 3] & (1u << (v & 7))) {
      v++;
      continue;
    }
    uint64_t first = v;
    while (v < total && !(c->seen[v >> 3] & (1u << (v & 7)))) v++;
    off += (size_t)snprintf(text + off, sizeof text - off, "%llu-%llu\n", (unsigned long long)first,
                            (unsigned long long)(v - 1));
    ranges++;
  }
  snprintf(path, sizeof path, "%s.missing", out);
  put_file(path, text);
}

// Consumes buf[0..r) of one connection: complete lines are counted, the rest kept.
static void feed(struct counts* c, struct conn* k, char* buf, size_t r) {
  char* p = buf;
  char* e = buf + r;
  if (k->part_len > 0) {
    char* nl = memchr(p, '\n', r);
    size_t take = nl ? (size_t)(nl - p) : r;
    k->part = realloc(k->part, k->part_len + take);
    if (!k->part) die("realloc");
    memcpy(k->part + k->part_len, p, take);
    k->part_len += take;
    if (!nl) return;
    count_line(c, k->part, k->part_len);
    k->part_len = 0;
    p = nl + 1;
  }
  char* nl;
  while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
    count_line(c, p, (size_t)(nl - p));
    p = nl + 1;
  }
  if (p < e) {
    k->part = realloc(k->part, (size_t)(e - p));
    if (!k->part) die("realloc");
    memcpy(k->part, p, (size_t)(e - p));
    k->part_len = (size_t)(e - p);
  }
}

static int cmd_sink(int port, uint64_t n, uint64_t rounds, const char* out) {
  if (n == 0 || rounds == 0 || rounds > MAX_ROUNDS) {
    fprintf(stderr, "logtool: sink: N must be >= 1 and R between 1 and %d\n", MAX_ROUNDS);
    return 2;
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) die("socket");
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
  if (listen(ls, 16) < 0) die("listen");
  static struct counts c;
  c.n = n;
  c.rounds = rounds;
  c.seen = calloc((size_t)(n * rounds / 8 + 1), 1);
  char* buf = malloc(CHUNK);
  if (!c.seen || !buf) die("malloc");
  enum { MAXC = 64 };
  struct conn conns[MAXC];
  int nconn = 0;
  write_status(&c, out);
  uint64_t last = now_us();
  while (!stop_flag) {
    struct pollfd pf[MAXC + 1];
    pf[0].fd = ls;
    pf[0].events = POLLIN;
    for (int i = 0; i < nconn; i++) {
      pf[i + 1].fd = conns[i].fd;
      pf[i + 1].events = POLLIN;
    }
    int pr = poll(pf, (nfds_t)nconn + 1, 20);
    if (pr < 0 && errno != EINTR) die("poll");
    if (pr > 0) {
      if ((pf[0].revents & POLLIN) && nconn < MAXC) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
          conns[nconn++] = (struct conn){fd, NULL, 0};
          c.conns++;
        }
      }
      for (int i = nconn - 1; i >= 0; i--) {
        if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t r = read(conns[i].fd, buf, CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          close(conns[i].fd);
          free(conns[i].part);
          conns[i] = conns[--nconn];
          continue;
        }
        feed(&c, &conns[i], buf, (size_t)r);
      }
    }
    uint64_t t = now_us();
    if (t - last >= 20000 || c.changed) {
      write_status(&c, out);
      last = t;
    }
  }
  write_status(&c, out);
  write_missing(&c, out);
  return 0;
}

static uint64_t arg_u64(const char* s) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s) {
    fprintf(stderr, "logtool: not a number: %s\n", s);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "write") == 0)
    return cmd_write(arg_u64(argv[2]), argc >= 4 ? (size_t)arg_u64(argv[3]) : 100,
                     argc >= 5 ? arg_u64(argv[4]) : 0);
  if (argc == 5 && strcmp(argv[1], "follow") == 0) return cmd_follow(argv[2], arg_u64(argv[3]), argv[4]);
  if (argc == 6 && strcmp(argv[1], "sink") == 0)
    return cmd_sink((int)arg_u64(argv[2]), arg_u64(argv[3]), arg_u64(argv[4]), argv[5]);
  fprintf(stderr, "usage: logtool write N [LEN [BASE]] | follow FILE N OUT | sink PORT N R OUT\n");
  return 2;
}
