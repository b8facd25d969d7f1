package dev.handoff.core.fd;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.Closeable;
import java.io.IOException;

/**
 * A connected socket pair between a parent and a child it spawns. The child's end becomes the child's
 * standard input ({@link #childStdin()} for {@link ProcessBuilder#redirectInput(ProcessBuilder.Redirect)});
 * the child opens it with {@link FdChannel#inheritedFromStdin(FdLimits)}. Once the child has started, the
 * parent calls {@link #childStarted()} to close its copy of the child's end.
 */
public final class FdChannelPair implements Closeable {

    private final FdChannel parent;
    private final AFUNIXSocket child;

    FdChannelPair(FdChannel parent, AFUNIXSocket child) {
        this.parent = parent;
        this.child = child;
    }

    public FdChannel parent() {
        return parent;
    }

    public ProcessBuilder.Redirect childStdin() throws IOException {
        return FileDescriptorCast.using(child.getFileDescriptor()).as(ProcessBuilder.Redirect.class);
    }

    /** Closes the parent's copy of the child's end, so that the parent sees EOF when the child exits. */
    public void childStarted() throws IOException {
        child.close();
    }

    @Override
    public void close() throws IOException {
        try {
            child.close();
        } finally {
            parent.close();
        }
    }
}
