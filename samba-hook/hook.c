/*
 * samba-entra-sync-hook: Samba AD "check password script" for samba-entra-sync.
 *
 * Samba runs this via `/bin/sh -c` as root, inside the password-change transaction and BEFORE the new
 * hash is committed, with the plaintext on stdin (UTF-8, no newline, then EOF). A non-zero exit (or a run
 * longer than 10 s) rejects the change, and while a script is configured Samba skips its own complexity
 * check. So this program:
 *   1. decides the verdict first: Samba's complexity rule (check_password_quality), or, with --chain, the
 *      administrator's own check script alone (it already replaced Samba's rule; --chain-with-complexity
 *      applies both);
 *   2. wipes the plaintext;
 *   3. only for an accepted password, tells the daemon "PasswordChanged(account)" over the system bus,
 *      awaiting the daemon's answer only inside a hard time budget, so that the bus or the daemon being down can never
 *      fail or stall a password change.
 * The plaintext is never kept, forwarded (except to the administrator's own chained check) or printed.
 * See README.md for the exit codes and the reason behind each rule.
 */
#define _GNU_SOURCE
#include <dbus/dbus.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exported by libsamba-util.so.0 (symbol version SAMBA_UTIL_0.0.1); Samba ships no public header for it.
 * It is the "3 of 5 character categories" rule Samba applies when no script is configured. */
bool check_password_quality(const char *pwd);

#define PROGRAM "samba-entra-sync-hook"

enum { EXIT_ACCEPT = 0, EXIT_REJECT = 1, EXIT_USAGE = 2 };

/* AD passwords have at most 256 characters; UTF-8 needs at most 4 bytes per character. */
#define MAX_PASSWORD_CHARS 256
#define MAX_PASSWORD_BYTES (MAX_PASSWORD_CHARS * 4)
/* sAMAccountName is at most 20 characters; anything much longer is not a name we should forward. */
#define MAX_ACCOUNT_BYTES 1024
/* The whole D-Bus part (connect, authenticate, Hello, send, flush) must fit in this. The maximum leaves
 * room for a slow chained check within Samba's 10 s; raising the default is for slow hosts and valgrind. */
#define DBUS_BUDGET_MS_DEFAULT 200
#define DBUS_BUDGET_MS_MAX 5000
/* Below Samba's own 10 s limit, so a hung chained script is killed by us instead of being orphaned. */
#define CHAIN_TIMEOUT_MS_DEFAULT 9000
#define CHAIN_TIMEOUT_MS_MAX 9500
/* Samba kills the script after 10 s: the chained check and the D-Bus part together get at most this
 * (the rest is start-up and reading stdin). Without --chain-timeout-ms the chain gets what is left. */
#define TOTAL_BUDGET_MS_MAX 9500

#define BUS_NAME "io.github.SambaEntraSync1"
#define OBJECT_PATH "/io/github/SambaEntraSync1"
#define INTERFACE_NAME "io.github.SambaEntraSync1"
#define METHOD_NAME "PasswordChanged"

struct options {
	const char *chain; /* shell command of an existing check script, or NULL */
	bool chain_with_complexity; /* with --chain: Samba's complexity rule too, not the script alone */
	long chain_timeout_ms;
	long dbus_budget_ms;
};

struct password {
	char bytes[MAX_PASSWORD_BYTES + 1]; /* NUL-terminated for check_password_quality */
	size_t len;
	bool readable;  /* false: stdin was closed (EBADF), nothing to check */
	bool failed;    /* reading stdin failed otherwise: the password cannot be checked, so it is refused */
	bool too_long;  /* more than MAX_PASSWORD_BYTES arrived (the rest was read and dropped) */
};

/* Exit status the D-Bus deadline handler uses; always the verdict decided before any D-Bus work. */
static volatile sig_atomic_t deadline_verdict = EXIT_ACCEPT;
/* Process group of the running chained script, killed by the chain deadline handler. */
static volatile sig_atomic_t chain_pgid = 0;
static volatile sig_atomic_t chain_timed_out = 0;

/* One line to stderr (Samba logs it at debug level 100). Never pass the password here. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char line[512];
	int prefix = snprintf(line, sizeof(line), PROGRAM ": ");
	va_list ap;
	va_start(ap, fmt);
	int body = vsnprintf(line + prefix, sizeof(line) - (size_t)prefix - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)prefix + (body < 0 ? 0 : (size_t)body);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, len);
	(void)ignored;
}

static void usage(void)
{
	printf(
		"usage: " PROGRAM " [--chain COMMAND [--chain-with-complexity]] [--chain-timeout-ms N] [--dbus-budget-ms N]\n"
		"Samba \"check password script\": applies Samba's complexity rule, or instead COMMAND (an existing\n"
		"check script run via /bin/sh -c with the password on its stdin; with --chain-with-complexity\n"
		"both), then notifies " BUS_NAME " over the system bus.\n"
		"The chain's timeout (default 9000 ms) and the D-Bus budget (default 200 ms) together stay\n"
		"within 9500 ms, under Samba's 10 s limit.\n"
		"Exit 0 accepts, 1 rejects, 2 is a usage error.\n");
}

static bool parse_ms(const char *text, long max, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

/* Matches "--name VALUE" or "--name=VALUE"; advances *i past a separate value. */
static bool option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);
	if (strncmp(arg, name, len) != 0)
		return false;
	if (arg[len] == '=') {
		*value = arg + len + 1;
		return true;
	}
	if (arg[len] != '\0')
		return false;
	*value = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct options *opt)
{
	opt->chain = NULL;
	opt->chain_with_complexity = false;
	opt->chain_timeout_ms = CHAIN_TIMEOUT_MS_DEFAULT;
	opt->dbus_budget_ms = DBUS_BUDGET_MS_DEFAULT;
	bool chain_timeout_given = false;
	for (int i = 1; i < argc; i++) {
		const char *value = NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return EXIT_ACCEPT;
		}
		if (strcmp(argv[i], "--chain-with-complexity") == 0) {
			opt->chain_with_complexity = true;
		} else if (option_value(argc, argv, &i, "--chain", &value)) {
			if (opt->chain != NULL) {
				say("--chain was given twice; give one command (it may call others).");
				return EXIT_USAGE;
			}
			if (value == NULL || *value == '\0') {
				say("--chain needs a non-empty command.");
				return EXIT_USAGE;
			}
			opt->chain = value;
		} else if (option_value(argc, argv, &i, "--chain-timeout-ms", &value)) {
			chain_timeout_given = true;
			if (value == NULL || !parse_ms(value, CHAIN_TIMEOUT_MS_MAX, &opt->chain_timeout_ms)) {
				say("--chain-timeout-ms needs a whole number of milliseconds from 1 to %d.",
				    CHAIN_TIMEOUT_MS_MAX);
				return EXIT_USAGE;
			}
		} else if (option_value(argc, argv, &i, "--dbus-budget-ms", &value)) {
			if (value == NULL || !parse_ms(value, DBUS_BUDGET_MS_MAX, &opt->dbus_budget_ms)) {
				say("--dbus-budget-ms needs a whole number of milliseconds from 1 to %d.",
				    DBUS_BUDGET_MS_MAX);
				return EXIT_USAGE;
			}
		} else {
			say("unknown argument \"%s\" (see --help).", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (opt->chain_with_complexity && opt->chain == NULL) {
		say("--chain-with-complexity needs --chain (without it, the complexity rule always applies).");
		return EXIT_USAGE;
	}
	if (opt->chain != NULL && chain_timeout_given) {
		if (opt->chain_timeout_ms + opt->dbus_budget_ms > TOTAL_BUDGET_MS_MAX) {
			say("--chain-timeout-ms (%ld) and --dbus-budget-ms (%ld) add up to more than %d ms, and Samba "
			    "kills the script at 10 s; lower one of them.",
			    opt->chain_timeout_ms, opt->dbus_budget_ms, TOTAL_BUDGET_MS_MAX);
			return EXIT_USAGE;
		}
	} else if (opt->chain_timeout_ms > TOTAL_BUDGET_MS_MAX - opt->dbus_budget_ms) {
		opt->chain_timeout_ms = TOTAL_BUDGET_MS_MAX - opt->dbus_budget_ms;
	}
	return -1;
}

/* Samba leaks descriptors into the script (e.g. the LDAP client's socket): do not hold them, and do not
 * pass them to a chained script. */
static void close_inherited_fds(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	/* Kernels before 5.9 lack close_range: close what /proc lists, else every possible number. */
	DIR *dir = opendir("/proc/self/fd");
	if (dir != NULL) {
		int own = dirfd(dir);
		struct dirent *entry;
		while ((entry = readdir(dir)) != NULL) {
			char *end = NULL;
			long fd = strtol(entry->d_name, &end, 10);
			if (end != entry->d_name && *end == '\0' && fd >= 3 && fd != own)
				close((int)fd);
		}
		closedir(dir);
		return;
	}
	struct rlimit lim;
	rlim_t top = 65536;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < top)
		top = lim.rlim_cur;
	for (rlim_t fd = 3; fd < top; fd++)
		close((int)fd);
}

/* So that nothing we open later lands on fd 1 or 2 and gets our stderr lines (or a chained script's output). */
static void ensure_stdout_stderr_open(void)
{
	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
}

/* Reads stdin to EOF so Samba never blocks on a full pipe, keeping at most MAX_PASSWORD_BYTES. */
static void read_password(struct password *pw)
{
	char overflow[65536];
	bool used_overflow = false;
	pw->len = 0;
	pw->readable = true;
	pw->failed = false;
	pw->too_long = false;
	for (;;) {
		char *dst = pw->bytes + pw->len;
		size_t room = MAX_PASSWORD_BYTES - pw->len;
		if (room == 0) {
			dst = overflow;
			room = sizeof(overflow);
		}
		ssize_t got = read(STDIN_FILENO, dst, room);
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			/* Only a closed stdin (as Samba leaves it in some set-ups) skips the check; any other
			 * error must not let an unchecked password through. */
			if (errno == EBADF) {
				say("stdin is closed: the password cannot be checked.");
			} else {
				say("cannot read stdin (%s): the password cannot be checked.", strerror(errno));
				pw->failed = true;
			}
			pw->readable = false;
			explicit_bzero(pw->bytes, sizeof(pw->bytes));
			pw->len = 0;
			break;
		}
		if (dst == overflow) {
			pw->too_long = true;
			used_overflow = true;
		} else {
			pw->len += (size_t)got;
		}
	}
	if (used_overflow)
		explicit_bzero(overflow, sizeof(overflow));
	pw->bytes[pw->len] = '\0';
}

static size_t utf8_characters(const char *bytes, size_t len)
{
	size_t chars = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)bytes[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

/* What no AD password can be, whatever the site's rule: checked in every mode. */
static int validity_verdict(const struct password *pw)
{
	if (pw->too_long || utf8_characters(pw->bytes, pw->len) > MAX_PASSWORD_CHARS) {
		say("rejected: longer than %d characters, so not a valid AD password.", MAX_PASSWORD_CHARS);
		return EXIT_REJECT;
	}
	if (memchr(pw->bytes, '\0', pw->len) != NULL) {
		say("rejected: the password contains a NUL character.");
		return EXIT_REJECT;
	}
	return EXIT_ACCEPT;
}

/* Samba's own rule, applied because Samba skips it while a script is configured. */
static int quality_verdict(const struct password *pw)
{
	if (!check_password_quality(pw->bytes)) {
		say("rejected: the password does not meet the complexity rule.");
		return EXIT_REJECT;
	}
	return EXIT_ACCEPT;
}

static bool arm_timer(long ms, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocked waitpid returns EINTR */
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return false;
	struct itimerval t;
	memset(&t, 0, sizeof(t));
	t.it_value.tv_sec = ms / 1000;
	t.it_value.tv_usec = (ms % 1000) * 1000;
	return setitimer(ITIMER_REAL, &t, NULL) == 0;
}

static void disarm_timer(void)
{
	struct itimerval off;
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN);
}

static void on_chain_deadline(int sig)
{
	(void)sig;
	chain_timed_out = 1;
	if (chain_pgid > 0)
		kill(-(pid_t)chain_pgid, SIGKILL);
}

static void write_all(int fd, const char *bytes, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, bytes, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EPIPE: the script exited without reading; its exit status decides */
		bytes += n;
		len -= (size_t)n;
	}
}

/* Runs the administrator's existing check script with our environment and, when we have it, the password
 * on its stdin (otherwise with stdin closed, as Samba gave it to us). Its verdict counts. */
static int chain_verdict(const struct options *opt, const struct password *pw)
{
	extern char **environ;
	int pipe_fds[2] = {-1, -1};
	if (pw->readable && pipe2(pipe_fds, O_CLOEXEC) != 0) {
		say("rejected: cannot create a pipe for the chained check (%s).", strerror(errno));
		return EXIT_REJECT;
	}
	pid_t pid = fork();
	if (pid < 0) {
		say("rejected: cannot start the chained check (%s).", strerror(errno));
		if (pw->readable) {
			close(pipe_fds[0]);
			close(pipe_fds[1]);
		}
		return EXIT_REJECT;
	}
	if (pid == 0) {
		/* Own process group, so a timeout kills the shell and whatever it started. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (pw->readable && dup2(pipe_fds[0], STDIN_FILENO) < 0)
			_exit(127);
		char *const child_argv[] = {"sh", "-c", (char *)opt->chain, NULL};
		execve("/bin/sh", child_argv, environ);
		_exit(127);
	}
	setpgid(pid, pid); /* also in the parent: no window where the kill below misses the group */
	chain_pgid = pid;
	chain_timed_out = 0;
	if (!arm_timer(opt->chain_timeout_ms, on_chain_deadline))
		say("cannot arm the chained-check timer (%s); Samba's 10 s limit still applies.", strerror(errno));
	if (pw->readable) {
		close(pipe_fds[0]);
		write_all(pipe_fds[1], pw->bytes, pw->len);
		close(pipe_fds[1]);
	}
	int status = 0;
	pid_t waited;
	while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	disarm_timer();
	chain_pgid = 0;
	if (waited < 0) {
		say("rejected: lost track of the chained check (%s).", strerror(errno));
		return EXIT_REJECT;
	}
	if (chain_timed_out) {
		say("rejected: the chained check did not finish within %ld ms and was killed.", opt->chain_timeout_ms);
		return EXIT_REJECT;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return EXIT_ACCEPT;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127))
		say("rejected: the chained check could not be started (exit %d).", WEXITSTATUS(status));
	else if (WIFEXITED(status))
		say("rejected by the chained check (exit %d).", WEXITSTATUS(status));
	else
		say("rejected: the chained check was killed by signal %d.", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EXIT_REJECT;
}

/* Only a name we can forward safely: present, non-empty, bounded, valid UTF-8 (libdbus aborts otherwise). */
static const char *account_to_notify(void)
{
	const char *account = getenv("SAMBA_CPS_ACCOUNT_NAME");
	if (account == NULL || *account == '\0') {
		say("SAMBA_CPS_ACCOUNT_NAME is not set: nothing to notify.");
		return NULL;
	}
	size_t len = strnlen(account, MAX_ACCOUNT_BYTES + 1);
	if (len > MAX_ACCOUNT_BYTES) {
		say("SAMBA_CPS_ACCOUNT_NAME is longer than %d bytes: not notifying.", MAX_ACCOUNT_BYTES);
		return NULL;
	}
	if (!dbus_validate_utf8(account, NULL)) {
		say("SAMBA_CPS_ACCOUNT_NAME is not valid UTF-8: not notifying.");
		return NULL;
	}
	return account;
}

static void on_dbus_deadline(int sig)
{
	static const char line[] = PROGRAM ": the system bus did not answer in time: not notified.\n";
	(void)sig;
	ssize_t ignored = write(STDERR_FILENO, line, sizeof(line) - 1);
	(void)ignored;
	_exit(deadline_verdict);
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* PasswordChanged(account) on the system bus. The reply is awaited only until the budget ends:
 * the daemon checks the caller's uid with the bus (GetConnectionCredentials), which needs this
 * connection to still be there; it answers within a millisecond or two, and a missing daemon is
 * answered by the bus at once. Every failure is logged and ignored. */
static void notify(const char *account, long budget_ms, int verdict)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	deadline_verdict = verdict;
	if (!arm_timer(budget_ms, on_dbus_deadline)) {
		/* Without a deadline a stuck bus could hold the password change for Samba's full 10 s. */
		say("cannot arm the D-Bus deadline (%s): not notifying.", strerror(errno));
		return;
	}
	DBusError err;
	dbus_error_init(&err);
	/* Honours DBUS_SYSTEM_BUS_ADDRESS, else libdbus's compiled-in system socket. A private connection,
	 * so closing it is ours to do. */
	DBusConnection *conn = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
	if (conn == NULL) {
		say("system bus unreachable (%s): not notified.", err.message != NULL ? err.message : "unknown error");
		dbus_error_free(&err);
		disarm_timer();
		dbus_shutdown();
		return;
	}
	/* dbus_bus_get* turns this on: a bus disconnect would make libdbus _exit(1) and reject the password. */
	dbus_connection_set_exit_on_disconnect(conn, FALSE);
	DBusMessage *msg = dbus_message_new_method_call(BUS_NAME, OBJECT_PATH, INTERFACE_NAME, METHOD_NAME);
	bool sent = false;
	if (msg != NULL) {
		/* The daemon is a service of its own; never start it from inside a password transaction. */
		dbus_message_set_auto_start(msg, FALSE);
		if (dbus_message_append_args(msg, DBUS_TYPE_STRING, &account, DBUS_TYPE_INVALID)) {
			sent = true;
			long left = budget_ms - elapsed_ms(&start);
			DBusMessage *reply = dbus_connection_send_with_reply_and_block(conn, msg, left > 1 ? (int)left : 1, &err);
			if (reply != NULL) {
				dbus_message_unref(reply);
			} else {
				say("the daemon did not take the notification (%s): the daemon's own poll will find the change.",
				    err.message != NULL ? err.message : "no answer");
				dbus_error_free(&err);
			}
		}
		dbus_message_unref(msg);
	}
	if (!sent)
		say("out of memory while building the D-Bus notification: not notified.");
	dbus_connection_close(conn);
	dbus_connection_unref(conn);
	disarm_timer();
	dbus_shutdown();
}

int main(int argc, char **argv)
{
	/* No core dump may ever contain the plaintext. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* A chained script that exits without reading its stdin must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	close_inherited_fds();
	ensure_stdout_stderr_open();

	struct options opt;
	int early = parse_options(argc, argv, &opt);
	if (early >= 0)
		return early;

	static struct password pw; /* static: no stack copy left behind in later frames */
	read_password(&pw);

	/* A chained script already replaced Samba's complexity rule on this site (Samba runs a script
	 * instead of its rule): it alone decides, unless asked to apply both. */
	int verdict = pw.failed ? EXIT_REJECT : EXIT_ACCEPT;
	if (pw.failed)
		say("rejected: the password could not be read.");
	if (pw.readable)
		verdict = validity_verdict(&pw);
	if (verdict == EXIT_ACCEPT && pw.readable && (opt.chain == NULL || opt.chain_with_complexity))
		verdict = quality_verdict(&pw);
	if (verdict == EXIT_ACCEPT && opt.chain != NULL)
		verdict = chain_verdict(&opt, &pw);
	explicit_bzero(&pw, sizeof(pw));

	/* A rejected password is not a change: the daemon has nothing to look for. */
	if (verdict == EXIT_ACCEPT) {
		const char *account = account_to_notify();
		if (account != NULL)
			notify(account, opt.dbus_budget_ms, verdict);
	}
	return verdict;
}
