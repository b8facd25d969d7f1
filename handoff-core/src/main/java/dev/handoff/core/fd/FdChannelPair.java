package dev.handoff.core.fd;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.Closeable;
import java.io.IOException;

/**
 * A connected socket pair between a parent and a child it starts. The JDK closes every descriptor above
 * 2 in a child, so the child's end travels as the child's standard input: pass {@link #childStdin()} to
 * {@link ProcessBuilder#redirectInput(ProcessBuilder.Redirect)}; the child opens it with
 * {@link FdChannel#inheritedFromStdin(FdLimits)}. Once the child runs, {@link #childStarted()} closes the
 * parent's copy of the child's end, so that the parent sees end of stream when the child exits.
 */
public final class FdChannelPair implements Closeable {

    private final FdChannel parent;
    // Held for as long as the pair is used: junixsocket closes a socket once it is unreachable.
    private final AFUNIXSocket child;

    FdChannelPair(FdChannel parent, AFUNIXSocket child) {
        this.parent = parent;
        this.child = child;
    }

    public FdChannel parent() {
        return parent;
    }

    AFUNIXSocket child() {
        return child;
    }

    /** The child's end, as a redirect for the child's standard input. */
    public ProcessBuilder.Redirect childStdin() throws IOException {
        return FileDescriptorCast.using(child.getFileDescriptor()).as(ProcessBuilder.Redirect.class);
    }

    /**
     * Closes the parent's copy of the child's end. Only the descriptor is closed: closing junixsocket's
     * socket would shut the connection down for the child too.
     */
    public void childStarted() throws IOException {
        Fds.closeQuietly(Fds.adopt(child.getFileDescriptor()));
    }

    @Override
    public void close() throws IOException {
        try {
            childStarted();
        } finally {
            parent.close();
        }
    }
}
