package dev.handoff.core.channel;

import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;
import dev.handoff.core.internal.JdkInternals;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * Real JDK channels around file descriptors that came from another process, and the reverse. The
 * channels are the JDK's own classes, so they work with the default {@link java.nio.channels.Selector}
 * and with every server built on it. Each method checks what the descriptor is first and refuses a
 * mismatch; on success the channel owns the descriptor (closing the channel closes it).
 */
public final class Channels {

    private Channels() {
    }

    public static ServerSocketChannel serverSocketChannel(FileDescriptor fd) throws IOException {
        FdDescription description = expect(fd, FdType.TCP_LISTENER);
        return JdkInternals.serverSocketChannel(fd, description.family());
    }

    public static SocketChannel socketChannel(FileDescriptor fd) throws IOException {
        FdDescription description = expect(fd, FdType.TCP_CONNECTION);
        return JdkInternals.socketChannel(fd, description.family(), JdkInternals.remoteAddress(fd));
    }

    /**
     * A connected channel around a descriptor already checked to be a TCP connection of {@code family}
     * to {@code remote}: the fast path for thousands of handed-over connections, which the manifest
     * layer validates one by one.
     */
    public static SocketChannel socketChannel(FileDescriptor fd, StandardProtocolFamily family, InetSocketAddress remote)
            throws IOException {
        return JdkInternals.socketChannel(fd, family, remote);
    }

    public static DatagramChannel datagramChannel(FileDescriptor fd) throws IOException {
        FdDescription description = expect(fd, FdType.UDP);
        return JdkInternals.datagramChannel(fd, description.family());
    }

    /** The descriptor inside a JDK socket or pipe channel; it stays owned by the channel. */
    public static FileDescriptor fileDescriptor(Channel channel) {
        return JdkInternals.fileDescriptor(channel);
    }

    private static FdDescription expect(FileDescriptor fd, FdType type) throws IOException {
        FdDescription description = FdInspector.describe(fd);
        if (description.type() != type) {
            throw new IOException("expected a " + type + " but the file descriptor is a " + description);
        }
        return description;
    }
}
