package dev.handoff.core.testing;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.Fds;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Checks that a block of code leaves this process with as many open descriptors as before. */
public final class OpenFds {

    private final int before;
    private final java.util.Set<String> targets;

    private OpenFds(int before, java.util.Set<String> targets) {
        this.before = before;
        this.targets = targets;
    }

    public static OpenFds snapshot() throws IOException {
        warmUp();
        return new OpenFds(Fds.openCount(), targets());
    }

    private static boolean warm;

    /**
     * The JDK keeps one socket open for good once its file channels are first used (the "pre-close"
     * descriptor of sun.nio.ch), and libraries may open similar one-time descriptors: exercise those
     * paths once before the first count so they are not mistaken for leaks.
     */
    private static synchronized void warmUp() throws IOException {
        if (warm) {
            return;
        }
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("handoff-warmup");
        java.nio.file.Files.writeString(dir.resolve("file"), "warm-up");
        java.nio.channels.ServerSocketChannel.open().close();
        try (FdServer server = FdServer.bind(dir.resolve("run").resolve("w.sock"), FdLimits.DEFAULT);
             FdChannel client = FdChannel.connect(server.path(), FdLimits.DEFAULT);
             FdChannel accepted = server.accept();
             java.io.FileInputStream file = new java.io.FileInputStream("/proc/self/stat")) {
            client.send(new byte[1], java.util.List.of(file.getFD()));
            accepted.receive().close();
        }
        warm = true;
    }

    private static java.util.Set<String> targets() throws IOException {
        java.util.Set<String> result = new java.util.TreeSet<>();
        try (var entries = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            for (java.nio.file.Path entry : (Iterable<java.nio.file.Path>) entries::iterator) {
                try {
                    result.add(entry.getFileName() + "->" + java.nio.file.Files.readSymbolicLink(entry));
                } catch (IOException gone) {
                    // closed while listing
                }
            }
        }
        return result;
    }

    /** Asserts no descriptor leaked; retries briefly because closes on other threads may lag. */
    public void assertNoLeak() throws IOException, InterruptedException {
        int now = Fds.openCount();
        for (int i = 0; i < 50 && now != before; i++) {
            Thread.sleep(20);
            now = Fds.openCount();
        }
        if (now != before) {
            java.util.Set<String> added = targets();
            added.removeAll(targets);
            assertEquals(before, now, "open file descriptors before vs after; new: " + added);
        }
    }
}
