package dev.handoff.core.fd;

import dev.handoff.core.internal.Libc;

import java.lang.invoke.MethodHandle;

/**
 * Marks received descriptors close-on-exec. junixsocket receives without {@code MSG_CMSG_CLOEXEC} and the
 * JDK has no {@code fcntl}, so on JDK 22 and later this calls {@code fcntl(fd, F_SETFD, FD_CLOEXEC)}
 * through the foreign-function API (looked up by reflection: this library is compiled for Java 17). On
 * older JDKs it does nothing; there the JDK's process launcher, which closes every descriptor above 2 in
 * a child, is what keeps received descriptors out of children the JVM starts.
 */
final class CloseOnExec {

    private static final int F_SETFD = 2;
    private static final int FD_CLOEXEC = 1;
    private static final MethodHandle FCNTL = fcntl();

    private CloseOnExec() {
    }

    /** Whether descriptors really are marked (JDK 22+ with native access allowed). */
    static boolean available() {
        return FCNTL != null;
    }

    static void mark(int fd) {
        if (FCNTL == null) {
            return;
        }
        try {
            int result = (int) FCNTL.invokeExact(fd, F_SETFD, FD_CLOEXEC);
            if (result != 0) {
                throw new IllegalStateException("fcntl(" + fd + ", F_SETFD, FD_CLOEXEC) failed");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static MethodHandle fcntl() {
        // int fcntl(int fd, int cmd, ...): the third argument is variadic.
        return Libc.intFunction("fcntl", 3, 2).orElse(null);
    }
}
