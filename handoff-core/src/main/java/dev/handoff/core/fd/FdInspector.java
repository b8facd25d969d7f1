package dev.handoff.core.fd;

import dev.handoff.core.internal.JdkInternals;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

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
        StandardProtocolFamily family = family(domain);
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
     * Like {@link #describe}, for a descriptor that should be a connected TCP socket, in as few syscalls as
     * the kernel allows (thousands arrive at once): its peer's address, which also says its family and that
     * it is connected, and its protocol. The local address is left out (null) for such a socket: the channel
     * built around it asks the kernel for it anyway, and asking twice costs as much as the rest. Anything
     * else gets the full description.
     */
    public static FdDescription describeConnection(FileDescriptor fd) throws IOException {
        try {
            FdDescription connection = JunixsocketInternals.readsPeerNames() ? tcpConnectionByPeerName(fd)
                    : tcpConnectionByJdk(fd);
            if (connection != null) {
                return connection;
            }
        } catch (IOException e) {
            // not a socket, or not connected: the full description below says what it is
        }
        return describe(fd);
    }

    /** Two syscalls: {@code getpeername}, whose address is in the socket's own family, then the protocol. */
    private static FdDescription tcpConnectionByPeerName(FileDescriptor fd) throws IOException {
        byte[] peer = JunixsocketInternals.peerName(fd);
        if (peer == null || peer.length < 4) {
            return null;
        }
        ByteBuffer hostOrder = ByteBuffer.wrap(peer).order(ByteOrder.nativeOrder());
        int domain = hostOrder.getShort(0) & 0xffff;
        int port = (peer[2] & 0xff) << 8 | peer[3] & 0xff; // network byte order in both families
        InetAddress address;
        if (domain == AF_INET && peer.length >= 8) {
            address = InetAddress.getByAddress(Arrays.copyOfRange(peer, 4, 8));
        } else if (domain == AF_INET6 && peer.length >= 28) {
            // Like the JDK's own addresses: an IPv4-mapped peer becomes an Inet4Address (getByAddress does
            // that), and a scope is kept where the kernel gives one.
            byte[] ip = Arrays.copyOfRange(peer, 8, 24);
            int scope = hostOrder.getInt(24);
            address = scope == 0 ? InetAddress.getByAddress(ip) : Inet6Address.getByAddress(null, ip, scope);
        } else {
            return null;
        }
        return JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP ? null
                : tcpConnection(domain, new InetSocketAddress(address, port));
    }

    /** Four syscalls: the family, the protocol, and the peer (the JDK asks for its IP and its port apart). */
    private static FdDescription tcpConnectionByJdk(FileDescriptor fd) throws IOException {
        int domain = JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_DOMAIN);
        if ((domain == AF_INET || domain == AF_INET6)
                && JdkInternals.intSocketOption(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP) {
            InetSocketAddress remote = JdkInternals.remoteAddress(fd); // fails for a listener: not connected
            if (remote != null) {
                return tcpConnection(domain, remote);
            }
        }
        return null;
    }

    private static FdDescription tcpConnection(int domain, InetSocketAddress remote) {
        return new FdDescription(FdType.TCP_CONNECTION, family(domain), null, remote, "socket");
    }

    private static StandardProtocolFamily family(int domain) {
        return domain == AF_INET6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
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
