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
import java.util.concurrent.atomic.AtomicReference;
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
 * The priority belongs to the process, and so does this: {@link dev.handoff.core.Handoff#start} lowers it,
 * unless the application lowered it earlier in its start-up (the Spring starter does, once its environment
 * is ready), and {@link dev.handoff.core.Handoff#ready} restores it either way.
 */
public final class StartupPriority {

    private static final Logger log = LoggerFactory.getLogger(StartupPriority.class);
    private static final Path TASKS = Path.of("/proc/self/task");
    private static final int PRIO_PROCESS = 0;
    private static final int CAP_SYS_NICE = 23;
    private static final int MAX_NICE = 19;
    private static final Optional<MethodHandle> SETPRIORITY = Libc.intFunction("setpriority", 3, -1);
    private static final AtomicReference<StartupPriority> LOWERED = new AtomicReference<>();

    private final int original;

    private StartupPriority(int original) {
        this.original = original;
    }

    /**
     * Makes every thread {@code steps} nicer (at most 19) if it can be restored afterwards; empty, changing
     * nothing, when {@code steps} is 0 or this process could not restore it (it says why at debug level).
     * Lowered already and not restored yet: the same handle, nothing changed.
     */
    public static synchronized Optional<StartupPriority> lower(int steps) {
        if (LOWERED.get() != null) {
            return Optional.of(LOWERED.get());
        }
        if (steps <= 0) {
            return Optional.empty();
        }
        try {
            int original = niceOf(Path.of("/proc/self/stat"));
            Optional<String> unable = whyNotRestorable(original);
            if (unable.isPresent()) {
                log.debug("start-up runs at its usual priority: {}", unable.get());
                return Optional.empty();
            }
            int lowered = Math.min(MAX_NICE, original + steps);
            if (lowered == original || !setEveryThread(lowered)) {
                return Optional.empty();
            }
            log.debug("start-up at nice {} (serving at {})", lowered, original);
            LOWERED.set(new StartupPriority(original));
            return Optional.of(LOWERED.get());
        } catch (IOException | RuntimeException e) {
            log.debug("start-up runs at its usual priority: {}", e.toString());
            return Optional.empty();
        }
    }

    /** Every thread back to the nice value this process had before {@link #lower}; once. */
    public void restore() {
        if (!LOWERED.compareAndSet(this, null)) {
            return;
        }
        try {
            if (!setEveryThread(original)) {
                log.warn("could not restore this process's priority to nice {}: it serves nicer than it started", original);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("could not restore this process's priority to nice {}: {}", original, e.toString());
        }
    }

    /** The nice value every thread of this process has now, or empty if they differ (for tests and logs). */
    public static Optional<Integer> current() throws IOException {
        Integer seen = null;
        for (Path task : tasks()) {
            int nice;
            try {
                nice = niceOf(task.resolve("stat"));
            } catch (IOException ended) {
                continue; // the thread ended meanwhile
            }
            if (seen != null && seen != nice) {
                return Optional.empty();
            }
            seen = nice;
        }
        return Optional.ofNullable(seen);
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
