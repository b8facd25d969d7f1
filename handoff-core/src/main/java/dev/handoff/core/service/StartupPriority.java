package dev.handoff.core.service;

import dev.handoff.core.internal.Libc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A successor's start-up at a lower scheduling priority: every thread of this process a few steps nicer
 * until it serves, so that class loading, the JIT and the warm-up take the cores only when the serving
 * incumbent leaves them idle, then back to where they were. Linux only. The nice value is per thread
 * there, and a new thread inherits its creator's, so lowering and restoring each go over
 * {@code /proc/self/task}. On JDK 22 and later through {@code setpriority(2)}; before that through the
 * {@code renice} command where one is installed; else not at all.
 * <p>
 * Nothing is lowered that could not be restored: raising a priority again needs {@code CAP_SYS_NICE} (root
 * has it) or a {@code RLIMIT_NICE} that reaches the original value, and a process left nicer for its whole
 * life would serve worse than one never lowered.
 * <p>
 * The priority belongs to the process, and so does this class's state: {@link dev.handoff.core.Handoff#start}
 * lowers it, unless the application lowered it earlier in its start-up (the Spring starter does, once its
 * environment is ready), and {@link dev.handoff.core.Handoff#ready} restores it either way.
 */
public final class StartupPriority {

    private static final Logger log = LoggerFactory.getLogger(StartupPriority.class);
    private static final Path TASKS = Path.of("/proc/self/task");
    private static final int PRIO_PROCESS = 0;
    private static final int CAP_SYS_NICE = 23;
    private static final int MAX_NICE = 19;
    private static final Optional<MethodHandle> SETPRIORITY = Libc.intFunction("setpriority", 3, -1);
    private static Integer original; // the nice value to restore; null: not lowered

    private StartupPriority() {
    }

    /**
     * When a socket file at {@code socket} says an incumbent is there, makes every thread {@code steps}
     * nicer (at most 19), if it can be restored afterwards; otherwise, with {@code steps} 0, or when it is
     * lowered already, changes nothing (it says why at debug level).
     */
    public static synchronized void lowerForTakeover(Path socket, int steps) {
        if (original != null || steps <= 0 || !Files.exists(socket)) {
            return;
        }
        try {
            int usual = niceOf(Path.of("/proc/self/stat"));
            Optional<String> unable = whyNotRestorable(usual);
            if (unable.isPresent()) {
                log.debug("start-up runs at its usual priority: {}", unable.get());
                return;
            }
            int lowered = Math.min(MAX_NICE, usual + steps);
            if (lowered != usual && setEveryThread(lowered)) {
                log.debug("start-up at nice {} (serving at {})", lowered, usual);
                original = usual;
            }
        } catch (IOException | RuntimeException e) {
            log.debug("start-up runs at its usual priority: {}", e.toString());
        }
    }

    /** Every thread back to the nice value this process had before {@link #lowerForTakeover}, if it was lowered. */
    public static synchronized void restore() {
        if (original == null) {
            return;
        }
        int usual = original;
        original = null;
        try {
            if (!setEveryThread(usual)) {
                log.warn("could not restore this process's priority to nice {}: it serves nicer than it started", usual);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("could not restore this process's priority to nice {}: {}", usual, e.toString());
        }
    }

    /**
     * {@link #restore()} on a thread of its own, which this returns (already ended when nothing was lowered):
     * before JDK 22 restoring runs the {@code renice} command, tens of milliseconds that a handoff's last
     * steps need not wait for.
     */
    public static Thread restoreInBackground() {
        Thread thread = new Thread(StartupPriority::restore, "handoff-priority");
        thread.setDaemon(true);
        synchronized (StartupPriority.class) {
            if (original != null) {
                thread.start();
            }
        }
        return thread;
    }

    private static Optional<String> whyNotRestorable(int original) throws IOException {
        if (!System.getProperty("os.name").startsWith("Linux")) {
            return Optional.of("thread priorities are only managed on Linux");
        }
        if (SETPRIORITY.isEmpty() && renice().isEmpty()) {
            return Optional.of("neither setpriority (JDK 22+) nor the renice command is at hand");
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("CapEff:") && (Long.parseUnsignedLong(line.substring(7).trim(), 16) >> CAP_SYS_NICE & 1) == 1) {
                return Optional.empty();
            }
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max nice priority")) {
                String soft = line.substring("Max nice priority".length()).trim().split("\\s+")[0];
                // RLIMIT_NICE r allows nice values down to 20 - r.
                if (soft.equals("unlimited") || 20 - Integer.parseInt(soft) <= original) {
                    return Optional.empty();
                }
            }
        }
        return Optional.of("restoring nice " + original + " afterwards needs CAP_SYS_NICE or a higher RLIMIT_NICE");
    }

    /**
     * Sets every thread, and checks in {@code /proc} that it took: a thread started meanwhile by one not yet
     * set inherits the old value, so the list is passed over again until none differs. False if some still
     * differ after a few passes (the kernel refused).
     */
    private static boolean setEveryThread(int nice) throws IOException {
        for (int pass = 0; pass < 5; pass++) {
            List<Integer> differing = new ArrayList<>();
            for (Path task : tasks()) {
                try {
                    if (niceOf(task.resolve("stat")) != nice) {
                        differing.add(Integer.parseInt(task.getFileName().toString()));
                    }
                } catch (IOException ended) {
                    // the thread ended meanwhile
                }
            }
            if (differing.isEmpty()) {
                return true;
            }
            set(differing, nice);
        }
        return false;
    }

    /** Best effort (a thread may end meanwhile): {@link #setEveryThread} checks what took. */
    private static void set(List<Integer> threads, int nice) throws IOException {
        if (SETPRIORITY.isPresent()) {
            for (int thread : threads) {
                try {
                    int ignored = (int) SETPRIORITY.get().invokeExact(PRIO_PROCESS, thread, nice);
                } catch (Throwable e) {
                    throw new IllegalStateException("setpriority failed", e);
                }
            }
            return;
        }
        List<String> command = new ArrayList<>(List.of(renice().orElseThrow().toString(), "-n", Integer.toString(nice), "-p"));
        threads.forEach(thread -> command.add(thread.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private static List<Path> tasks() throws IOException {
        try (Stream<Path> tasks = Files.list(TASKS)) {
            return tasks.toList();
        }
    }

    /** Field 19 of a {@code stat} file: after the command name in parentheses, the 17th value. */
    private static int niceOf(Path stat) throws IOException {
        String text = Files.readString(stat);
        String[] fields = text.substring(text.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(fields[16]);
    }

    private static Optional<Path> renice() {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String directory : path.split(File.pathSeparator)) {
            Path candidate = Path.of(directory, "renice");
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
