package dev.handoff.core.testing;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real child JVM running a main class from the test classpath, with the flags Handoff needs. Its
 * stdout lines are queued for {@link #awaitLine}; its stderr goes to a log file next to the test output.
 */
public final class JavaChild implements Closeable {

    public static final List<String> JVM_FLAGS = List.of(
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens", "java.base/java.io=ALL-UNNAMED",
            "--enable-native-access=ALL-UNNAMED",
            "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx128m");

    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();

    private JavaChild(Process process, java.util.function.Consumer<String> observer) {
        this.process = process;
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    observer.accept(line); // before the line is queued: whoever waits for it sees its effect
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the child is gone
            }
        }, "child-stdout-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    /** Command line for {@code mainClass} with the test classpath and Handoff's JVM flags. */
    public static List<String> command(Class<?> mainClass, String... args) {
        return command(JVM_FLAGS, mainClass, args);
    }

    public static List<String> command(List<String> jvmFlags, Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
        command.addAll(List.of(args));
        return command;
    }

    public static JavaChild start(Class<?> mainClass, String... args) throws IOException {
        return start(new ProcessBuilder(command(mainClass, args)));
    }

    public static JavaChild start(ProcessBuilder builder) throws IOException {
        return start(builder, line -> { });
    }

    /** Starts a child whose every stdout line {@code observer} sees first, on the reading thread. */
    public static JavaChild start(ProcessBuilder builder, java.util.function.Consumer<String> observer) throws IOException {
        Path log = Path.of("target", "child-logs");
        log.toFile().mkdirs();
        builder.redirectError(ProcessBuilder.Redirect.appendTo(log.resolve("children.log").toFile()));
        return new JavaChild(builder.start(), observer);
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    /** Waits for a stdout line that starts with {@code prefix}; fails with everything seen so far. */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        return awaitLine(timeout, prefix);
    }

    /** Waits for a stdout line that starts with any of {@code prefixes}. */
    public String awaitLine(Duration timeout, String... prefixes) throws InterruptedException {
        String prefix = String.join("' or '", prefixes);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
            if (line == null) {
                throw new AssertionError("child " + pid() + " printed no line starting with '" + prefix + "' within "
                        + timeout + " (alive: " + process.isAlive() + "); it printed: " + seen
                        + "; see target/child-logs/children.log");
            }
            seen.add(line);
            for (String wanted : prefixes) {
                if (line.startsWith(wanted)) {
                    return line;
                }
            }
        }
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Sends the signal ({@code STOP}, {@code CONT}, ...) with kill(1), which must succeed. */
    public void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid())).inheritIO().start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new AssertionError("kill -" + name + " " + pid() + " failed");
        }
    }

    /** SIGKILL, then wait for the process to be gone. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("child " + pid() + " did not exit within " + timeout + "; it printed: " + seen
                    + " " + lines);
        }
        return process.exitValue();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
