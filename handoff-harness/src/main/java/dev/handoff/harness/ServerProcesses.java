package dev.handoff.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sample-server processes ({@code java -jar <server jar> args...}) started by the demo, the comparison and
 * the tests: their stdout lines in one queue (a copy started by SIGHUP writes to its parent's stdout, so
 * its lines arrive there too), their stderr appended to a log file, and every copy that said READY
 * stopped at the end.
 */
public final class ServerProcesses implements AutoCloseable {

    /**
     * The EXIT line of a copy that handed over: its pid, the successor's pid, the handoff in ms, the drain
     * in ms, and the connections handed over, closed, and cut at the deadline.
     */
    public static final Pattern HANDED_OVER = Pattern.compile(
            "EXIT pid=(\\d+) handed over to pid (\\d+) in ([0-9.]+) ms; drained in (\\d+) ms: (\\d+) connections handed over, (\\d+) closed, (\\d+) cut");
    private static final Pattern READY = Pattern.compile("READY pid=(\\d+) generation=(\\d+)");
    private static final Pattern EXIT = Pattern.compile("EXIT pid=(\\d+)");

    private final List<String> java;
    private final Path log;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> held = new ArrayList<>();
    private final Map<Long, Process> started = new ConcurrentHashMap<>();
    private final Set<Long> serving = ConcurrentHashMap.newKeySet();

    /** Copies of {@code serverJar}, run by this JVM's {@code java}, their stderr appended to {@code log}. */
    public ServerProcesses(Path serverJar, Path log) {
        this(command(serverJar), log);
    }

    /** The same, each copy started with {@code archive} if it fits them (it says which, on stdout); null: none. */
    public ServerProcesses(Path serverJar, Path log, StartupArchive archive) throws InterruptedException {
        this(archive == null ? command(serverJar) : withArchive(command(serverJar), archive), log);
    }

    private ServerProcesses(List<String> java, Path log) {
        this.java = java;
        this.log = log;
    }

    private static List<String> command(Path serverJar) {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", serverJar.toString());
    }

    private static List<String> withArchive(List<String> command, StartupArchive archive) throws InterruptedException {
        List<String> using = archive.using(command, warning -> System.out.println("  " + warning));
        if (using != command) {
            System.out.println("  start-up archive: " + archive.path());
        }
        return using;
    }

    /** A loopback port that nothing listens on now, for a server to bind. */
    public static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }

    public Path log() {
        return log;
    }

    /** Starts {@code java -jar <server jar> args...}. */
    public Process start(List<String> args) throws IOException {
        List<String> command = new ArrayList<>(java);
        command.addAll(args);
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        started.put(process.pid(), process);
        Thread reader = new Thread(() -> read(process), "stdout-" + process.pid());
        reader.setDaemon(true);
        reader.start();
        return process;
    }

    private void read(Process process) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                Matcher ready = READY.matcher(line);
                if (ready.lookingAt()) {
                    serving.add(Long.parseLong(ready.group(1)));
                }
                Matcher exit = EXIT.matcher(line);
                if (exit.lookingAt()) {
                    serving.remove(Long.parseLong(exit.group(1)));
                }
                lines.add(line);
            }
        } catch (IOException ignored) {
            // the process is gone
        }
    }

    /** The next line (from any process) that matches, waiting up to {@code timeout}; others stay queued. */
    public String await(Predicate<String> wanted, String what, Duration timeout) throws InterruptedException, TimeoutException {
        synchronized (held) {
            for (int i = 0; i < held.size(); i++) {
                if (wanted.test(held.get(i))) {
                    return held.remove(i);
                }
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    throw new TimeoutException("no " + what + " within " + timeout.toSeconds() + " s (server log: " + log + ")");
                }
                if (wanted.test(line)) {
                    return line;
                }
                held.add(line);
            }
        }
    }

    /** Waits for {@code READY ... generation=<generation>}; returns that process's pid. */
    public long awaitReady(int generation, Duration timeout) throws InterruptedException, TimeoutException {
        String line = await(l -> l.startsWith("READY ") && l.endsWith(" generation=" + generation),
                "READY of generation " + generation, timeout);
        Matcher matcher = READY.matcher(line);
        if (!matcher.lookingAt()) {
            throw new IllegalStateException("unreadable READY line: " + line);
        }
        return Long.parseLong(matcher.group(1));
    }

    /** Waits for {@code pid}'s EXIT line and returns it. */
    public String awaitExit(long pid, Duration timeout) throws InterruptedException, TimeoutException {
        return await(l -> l.startsWith("EXIT pid=" + pid + " "), "EXIT of pid " + pid, timeout);
    }

    /** The exit status of a process this object started, once it ended. */
    public Optional<Integer> exitStatus(long pid, Duration timeout) throws InterruptedException {
        Process process = started.get(pid);
        if (process == null || !process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return Optional.empty();
        }
        return Optional.of(process.exitValue());
    }

    /** Sends {@code signal} (HUP, TERM, ...) to {@code pid}. */
    public static void signal(long pid, String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IOException("kill -" + signal + " " + pid + " failed");
        }
    }

    /** Stops every copy still serving (SIGTERM, then SIGKILL after 15 s). */
    @Override
    public void close() throws InterruptedException {
        for (long pid : Set.copyOf(serving)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
        for (long pid : Set.copyOf(serving)) {
            Optional<ProcessHandle> handle = ProcessHandle.of(pid);
            if (handle.isPresent()) {
                try {
                    handle.get().onExit().get(15, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
                    handle.get().destroyForcibly();
                }
            }
        }
        for (Process process : started.values()) {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
