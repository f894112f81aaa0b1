/*
 * Reaches for what the namespaces leave shared with the machine: a key in
 * the box user's keyring (it would outlive the grading, and be read by
 * the next grader of the same box user), an AF_VSOCK socket (not
 * confined by the network namespace), a user namespace (by unshare and
 * by clone), and io_uring. Each that works is said, then undone: the key
 * is revoked at once, the socket closed, the child reaped.
 */
#include "attack.h"

#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/vm_sockets.h>

#define KEY_SPEC_USER_KEYRING -4
#define KEYCTL_REVOKE 3

static void try_keyring(void)
{
	long key = syscall(SYS_add_key, "user", "attack-left-behind", "planted", 7,
			   KEY_SPEC_USER_KEYRING);

	if (key >= 0) {
		attack_report("planted a key in the box user's keyring");
		syscall(SYS_keyctl, KEYCTL_REVOKE, key);
	}
}

static void try_vsock(void)
{
	struct sockaddr_vm any = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = VMADDR_PORT_ANY};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return;
	attack_report("opened a vsock socket%s",
		      bind(fd, (struct sockaddr *)&any, sizeof(any)) == 0 ? " and bound it" : "");
	close(fd);
}

static void try_user_namespaces(void)
{
	pid_t child = fork();

	if (child == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	int status;
	if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		attack_report("made a user namespace with unshare");
	/* clone(2) itself, as a program that avoids glibc's wrappers would. */
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		waitpid((pid_t)pid, NULL, 0);
		attack_report("cloned a child into a user namespace");
	}
}

static void try_io_uring(void)
{
	char params[120] = {0};		/* struct io_uring_params */
	long fd = syscall(SYS_io_uring_setup, 4, params);

	if (fd >= 0) {
		attack_report("set up an io_uring");
		close((int)fd);
	}
}

void attack(void)
{
	try_keyring();
	try_vsock();
	try_user_namespaces();
	try_io_uring();
}
