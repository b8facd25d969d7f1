package dev.handoff.core.fd;

import dev.handoff.core.internal.JdkInternals;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.stream.Stream;

/** Small helpers for raw file descriptors. */
public final class Fds {

    private static final Path PROC_SELF_FD = Path.of("/proc/self/fd");

    private Fds() {
    }

    /** The descriptor number, or -1 if the object is closed. */
    public static int number(FileDescriptor fd) {
        return JdkInternals.fdNumber(fd);
    }

    public static void closeQuietly(FileDescriptor fd) {
        if (fd == null || !fd.valid()) {
            return;
        }
        try {
            JdkInternals.close(fd);
        } catch (IOException | RuntimeException ignored) {
            // Closing is best effort on error paths; the descriptor is gone either way.
        }
    }

    public static void closeQuietly(Collection<FileDescriptor> fds) {
        for (FileDescriptor fd : fds) {
            closeQuietly(fd);
        }
    }

    /**
     * Takes a descriptor away from whoever created the {@link FileDescriptor} object: returns a fresh
     * object for the same number and makes the original forget it, so its owner can no longer close it.
     */
    static FileDescriptor adopt(FileDescriptor foreign) {
        int number = JdkInternals.fdNumber(foreign);
        JdkInternals.forget(foreign);
        return JdkInternals.fileDescriptor(number);
    }

    /** How many descriptors this process has open, from {@code /proc/self/fd}. */
    public static int openCount() throws IOException {
        try (Stream<Path> entries = Files.list(PROC_SELF_FD)) {
            // The directory stream itself holds one descriptor while it is listed.
            return (int) entries.count() - 1;
        }
    }

    /**
     * What a descriptor refers to, as {@code /proc/self/fd} links it: {@code socket:[inode]},
     * {@code pipe:[inode]}, a path, or {@code anon_inode:...}.
     */
    public static String target(FileDescriptor fd) throws IOException {
        try {
            return Files.readSymbolicLink(PROC_SELF_FD.resolve(Integer.toString(number(fd)))).toString();
        } catch (NoSuchFileException e) {
            throw new IOException("file descriptor " + number(fd) + " is not open", e);
        }
    }
}
