/* no_bindtodevice PROGRAM [ARGS...]: runs PROGRAM in a process where
 * setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ...) fails with EPERM, as it
 * does on kernels before 5.7 for a process without CAP_NET_RAW; every other
 * system call is left alone. Used by tests/bind.rs to exercise the
 * fallback of --bind-interface (bind to the device's IPv4 address).
 *
 * A seccomp-BPF filter: no_new_privs first (so no privilege is needed to
 * install it), then the filter; it is inherited across execve. A system
 * call from another architecture than the one built for kills the process
 * rather than be matched against the wrong numbers. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#else
#error "no_bindtodevice: add this architecture's AUDIT_ARCH_ value"
#endif

/* The low 32 bits of argument N (little-endian targets only, as above). */
#define ARG_LO(n) offsetof(struct seccomp_data, args[n])

int main(int argc, char **argv) {
    struct sock_filter filter[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
        /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 5),
        /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3),
        /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_BINDTODEVICE, 0, 1),
        /* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        /* 10 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof filter / sizeof filter[0]),
        .filter = filter,
    };
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 127;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("no_bindtodevice: prctl(PR_SET_NO_NEW_PRIVS)");
        return 127;
    }
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("no_bindtodevice: seccomp(SECCOMP_SET_MODE_FILTER)");
        return 127;
    }
    execv(argv[1], argv + 1);
    perror("no_bindtodevice: execv");
    return 127;
}
