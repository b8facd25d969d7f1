package dev.handoff.core;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.internal.JdkInternals;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * Connections between a {@link Connection}'s JDK channel and a library that owns descriptor numbers itself
 * (Netty's native transports): each direction makes a copy ({@code dup}), so that each side closes only
 * its own descriptor and neither can close a number the other has already given back to the kernel.
 */
public final class Descriptors {

    private Descriptors() {
    }

    /** A copy of the channel's descriptor, which the caller owns and must close; the channel keeps its own. */
    public static int copyOf(SocketChannel channel) throws IOException {
        return JdkInternals.fdNumber(copy(Channels.fileDescriptor(channel)));
    }

    /**
     * A JDK channel over a copy of {@code fd}, a TCP connection; {@code fd} stays the caller's. The copy is
     * checked to be a connected TCP socket first.
     */
    public static SocketChannel socketChannelOfCopy(int fd) throws IOException {
        FileDescriptor copy = copy(JdkInternals.fileDescriptor(fd));
        try {
            return Channels.socketChannel(copy);
        } catch (IOException | RuntimeException e) {
            JdkInternals.close(copy);
            throw e;
        }
    }

    /** Closes a descriptor number this process owns that nothing else wraps (a copy it could not hand on). */
    public static void close(int fd) throws IOException {
        JdkInternals.close(JdkInternals.fileDescriptor(fd));
    }

    private static FileDescriptor copy(FileDescriptor fd) throws IOException {
        return FileDescriptorCast.duplicating(fd).getFileDescriptor();
    }
}
