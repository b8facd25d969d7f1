package dev.handoff.core.testing;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdServer;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The open descriptors of a process, as {@code /proc/<pid>/fd} lists them (number and target, so a
 * number reused for a new socket counts as new), to check that a block of code leaves none behind.
 */
public final class OpenFds {

    private static boolean warm;

    private final Path directory;
    private final Set<String> before;

    private OpenFds(Path directory) throws IOException {
        this.directory = directory;
        this.before = list();
    }

    /** This process's descriptors, after a one-time warm-up. */
    public static OpenFds snapshot() throws IOException {
        warmUp();
        return new OpenFds(Path.of("/proc/self/fd"));
    }

    /** Another process's descriptors, seen from outside. */
    public static OpenFds of(long pid) throws IOException {
        return new OpenFds(Path.of("/proc/" + pid + "/fd"));
    }

    /**
     * Asserts that every descriptor open now was open before; retries for up to two seconds because
     * other threads and processes close theirs a moment later.
     */
    public void assertNoLeak() throws IOException, InterruptedException {
        Set<String> added = settled(Set::isEmpty, this::added);
        assertEquals(Set.of(), added, "descriptors opened and not closed, in " + directory);
    }

    /**
     * Asserts that no more descriptors are open than before, for code that may rightly replace one with
     * another: an incumbent takes its rendezvous socket back after a failed successor renamed its own over
     * the path, with a new listening socket for the old one. Retries like {@link #assertNoLeak()}.
     */
    public void assertNoMoreThanBefore() throws IOException, InterruptedException {
        Set<String> seen = settled(now -> now.size() <= before.size(), this::list);
        assertTrue(seen.size() <= before.size(), () -> "more descriptors open than before, in " + directory + ": before "
                + before + ", now " + seen);
    }

    /** What {@code look} sees once {@code ok} holds, or after two seconds: others close theirs a moment later. */
    private static Set<String> settled(Predicate<Set<String>> ok, Listing look) throws IOException, InterruptedException {
        Set<String> now = look.list();
        for (int i = 0; i < 100 && !ok.test(now); i++) {
            Thread.sleep(20);
            now = look.list();
        }
        return now;
    }

    private interface Listing {
        Set<String> list() throws IOException;
    }

    private Set<String> added() throws IOException {
        Set<String> now = list();
        now.removeAll(before);
        return now;
    }

    private Set<String> list() throws IOException {
        Set<String> result = new TreeSet<>();
        try (Stream<Path> entries = Files.list(directory)) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                try {
                    String target = Files.readSymbolicLink(entry).toString();
                    if (!target.endsWith("/fd")) { // the listing's own directory stream
                        result.add(entry.getFileName() + "->" + target);
                    }
                } catch (IOException closedMeanwhile) {
                    // gone while listing
                }
            }
        }
        return result;
    }

    /**
     * The JDK keeps one socket open for good once its file channels are first used (the "pre-close"
     * descriptor of sun.nio.ch), and libraries may open similar one-time descriptors: exercise those
     * paths once before the first snapshot so they are not mistaken for leaks.
     */
    private static synchronized void warmUp() throws IOException {
        if (warm) {
            return;
        }
        Path dir = Files.createTempDirectory("handoff-warmup");
        Files.writeString(dir.resolve("file"), "warm-up");
        ServerSocketChannel.open().close();
        try (FdServer server = FdServer.bind(dir.resolve("run").resolve("w.sock"), FdLimits.DEFAULT);
             FdChannel client = FdChannel.connect(server.path(), FdLimits.DEFAULT);
             FdChannel accepted = server.accept();
             FileInputStream file = new FileInputStream("/proc/self/stat")) {
            client.send(new byte[1], List.of(file.getFD()));
            accepted.receive().close();
        }
        warm = true;
    }
}
