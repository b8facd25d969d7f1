package dev.handoff.core.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The nice values of another process's threads, read from /proc, to check what it did to its priority. */
public final class ThreadPriorities {

    private static final int CAP_SYS_NICE = 23;

    private ThreadPriorities() {
    }

    /** Whether this process may raise priorities (a child it starts inherits that). */
    public static boolean canRaise() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(line -> line.startsWith("CapEff:"))
                .anyMatch(line -> (Long.parseUnsignedLong(line.substring(7).trim(), 16) >> CAP_SYS_NICE & 1) == 1);
    }

    /** The nice value of process {@code pid}'s main thread. */
    public static int niceOf(long pid) throws IOException {
        return niceOf(Path.of("/proc", Long.toString(pid), "stat"));
    }

    /** The distinct nice values of every thread of process {@code pid}. */
    public static Set<Integer> threadNices(long pid) throws IOException {
        Set<Integer> nices = new TreeSet<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                try {
                    nices.add(niceOf(task.resolve("stat")));
                } catch (IOException ended) {
                    // the thread ended meanwhile
                }
            }
        }
        return nices;
    }

    /** Field 19 of a stat file: after the command name in parentheses, the 17th value. */
    private static int niceOf(Path stat) throws IOException {
        String text = Files.readString(stat);
        return Integer.parseInt(text.substring(text.lastIndexOf(')') + 2).split(" ")[16]);
    }
}
