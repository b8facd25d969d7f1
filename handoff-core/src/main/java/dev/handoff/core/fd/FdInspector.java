package dev.handoff.core.fd;

import dev.handoff.core.internal.JdkInternals;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;

/** Asks the kernel what a file descriptor is, before anything trusts a peer's word about it. */
public final class FdInspector {

    // Linux values from <sys/socket.h>.
    private static final int SOL_SOCKET = 1;
    private static final int SO_TYPE = 3;
    private static final int SO_ACCEPTCONN = 30;
    private static final int SO_PROTOCOL = 38;
    private static final int SO_DOMAIN = 39;
    private static final int IPPROTO_TCP = 6;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    private FdInspector() {
    }

    /**
     * Sockets are asked first with {@code getsockopt} (a few cheap syscalls, which matters when
     * thousands of connections arrive at once); only what is not a socket is looked up in /proc.
     */
    public static FdDescription describe(FileDescriptor fd) throws IOException {
        int domain;
        try {
            domain = JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_DOMAIN);
        } catch (IOException notASocket) {
            return describeNonSocket(fd);
        }
        if (domain == AF_UNIX) {
            return new FdDescription(FdType.UNIX_SOCKET, null, null, Fds.target(fd));
        }
        if (domain != AF_INET && domain != AF_INET6) {
            return new FdDescription(FdType.OTHER_SOCKET, null, null, Fds.target(fd));
        }
        StandardProtocolFamily family = domain == AF_INET6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
        int type = JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_TYPE);
        InetSocketAddress local = JdkInternals.localAddress(fd);
        FdType fdType;
        if (type == SOCK_DGRAM) {
            fdType = FdType.UDP;
        } else if (type == SOCK_STREAM) {
            fdType = JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_ACCEPTCONN) != 0
                    ? FdType.TCP_LISTENER : FdType.TCP_CONNECTION;
        } else {
            fdType = FdType.OTHER_SOCKET;
        }
        return new FdDescription(fdType, family, local, "socket");
    }

    /**
     * Like {@link #describe}, for a descriptor that should be a connected TCP socket, in three syscalls
     * (thousands arrive at once): its family, its protocol and its peer's address. The local address is
     * left out (null) for such a socket: the channel built around it asks the kernel for it anyway, and
     * asking twice costs as much as the rest. Anything else gets the full description.
     */
    public static FdDescription describeConnection(FileDescriptor fd) throws IOException {
        try {
            int domain = JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_DOMAIN);
            if ((domain == AF_INET || domain == AF_INET6)
                    && JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP) {
                InetSocketAddress remote = JdkInternals.remoteAddress(fd); // fails for a listener: not connected
                if (remote != null) {
                    return new FdDescription(FdType.TCP_CONNECTION,
                            domain == AF_INET6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET, null, remote, "socket");
                }
            }
        } catch (IOException e) {
            // not a socket, or not connected: the full description below says what it is
        }
        return describe(fd);
    }

    private static FdDescription describeNonSocket(FileDescriptor fd) throws IOException {
        String target = Fds.target(fd);
        if (target.startsWith("pipe:")) {
            return new FdDescription(FdType.PIPE, null, null, target);
        }
        if (target.startsWith("/")) {
            return new FdDescription(FdType.FILE, null, null, target);
        }
        return new FdDescription(FdType.OTHER, null, null, target);
    }
}
