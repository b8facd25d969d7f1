package dev.handoff.core.fd;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A payload and the file descriptors that came with it. The message owns the descriptors until they are
 * taken with {@link #take(int)} or {@link #takeAll()}; {@link #close()} closes every one not taken, so
 * that a message dropped on an error path leaks nothing.
 */
public final class FdMessage implements Closeable {

    private final byte[] payload;
    private final List<FileDescriptor> fds;
    private final boolean[] taken;

    FdMessage(byte[] payload, List<FileDescriptor> fds) {
        this.payload = payload;
        this.fds = List.copyOf(fds);
        this.taken = new boolean[fds.size()];
    }

    public byte[] payload() {
        return payload;
    }

    public int fdCount() {
        return fds.size();
    }

    public synchronized boolean isTaken(int index) {
        return taken[index];
    }

    /** Takes ownership of descriptor {@code index}: the caller must close it (or wrap it in a channel). */
    public synchronized FileDescriptor take(int index) {
        if (taken[index]) {
            throw new IllegalStateException("file descriptor " + index + " was already taken");
        }
        taken[index] = true;
        return fds.get(index);
    }

    /** Takes ownership of every descriptor not taken yet, in order. */
    public synchronized List<FileDescriptor> takeAll() {
        List<FileDescriptor> result = new ArrayList<>(fds.size());
        for (int i = 0; i < fds.size(); i++) {
            if (!taken[i]) {
                taken[i] = true;
                result.add(fds.get(i));
            }
        }
        return Collections.unmodifiableList(result);
    }

    /** Closes every descriptor that nobody took. */
    @Override
    public synchronized void close() {
        for (int i = 0; i < fds.size(); i++) {
            if (!taken[i]) {
                taken[i] = true;
                Fds.closeQuietly(fds.get(i));
            }
        }
    }
}
