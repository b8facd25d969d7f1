package dev.handoff.harness;

import dev.handoff.harness.load.HttpClients;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * {@code train --archive PATH [--http HOST:PORT] [--requests N] [--ready REGEX] -- <server command...>}: makes
 * a {@link StartupArchive} for a server command by running it through a real handoff in both roles, with
 * requests between. Three generations, each started with the same command as a deploy would: the first
 * serves; the second takes over from it (the successor's side) while its JVM records; HTTP keep-alive
 * clients then send requests through the second (the request path), and a third takes over from it (the
 * incumbent's side: listeners and live connections handed over). The second writes the archive as it exits;
 * the third is stopped (SIGTERM). A generation is ready when its output (stdout and stderr) matches the ready
 * pattern, by default Handoff's own {@code READY generation N} log line.
 */
final class Trainer {

    private static final Duration WAIT = Duration.ofMinutes(3);

    private Trainer() {
    }

    static int run(List<String> args) throws Exception {
        List<String> options = new ArrayList<>(args);
        int separator = options.indexOf("--");
        if (separator < 0 || separator == options.size() - 1) {
            throw new IllegalArgumentException("train needs -- <server command...>; " + Main.USAGE);
        }
        List<String> command = List.copyOf(options.subList(separator + 1, options.size()));
        options = new ArrayList<>(options.subList(0, separator));
        StartupArchive archive = new StartupArchive(Path.of(Main.take(options, "--archive").orElseThrow(
                () -> new IllegalArgumentException("train needs --archive PATH; " + Main.USAGE))));
        InetSocketAddress http = Main.take(options, "--http").map(Trainer::address).orElse(null);
        long requests = Main.take(options, "--requests").map(Long::parseLong).orElse(20_000L);
        Pattern ready = Pattern.compile(Main.take(options, "--ready").orElse("READY generation \\d+"));
        if (!options.isEmpty()) {
            throw new IllegalArgumentException("unknown train options " + options + "; " + Main.USAGE);
        }
        Files.deleteIfExists(archive.path());
        Files.deleteIfExists(archive.fingerprintFile());
        long start = System.nanoTime();
        List<Process> started = new ArrayList<>();
        StartupArchive.Jvm jvm;
        try {
            jvm = StartupArchive.Jvm.of(command);
            Process first = start(command, "first", ready, started);
            Process recording = start(archive.recording(command, jvm), "recording", ready, started);
            awaitExit(first, "the first generation, after the recording one took over");
            HttpClients clients = http == null ? null : HttpClients.start(http, 4, Duration.ZERO);
            Process last;
            try {
                if (clients != null) {
                    clients.awaitMoreRequests(requests, WAIT);
                }
                last = start(command, "last", ready, started);
                awaitExit(recording, "the recording generation, after the last one took over (it writes the archive)");
            } finally {
                if (clients != null) {
                    clients.close();
                }
            }
            if (clients != null) {
                // Said, not fatal: the archive is made all the same, but this is a failed restart to look into.
                System.out.println("TRAIN " + clients.requests() + " requests, " + clients.failures() + " failed"
                        + (clients.failures() > 0 ? ": " + clients.failureSamples() : ""));
            }
            last.destroy();
            awaitExit(last, "the last generation, stopped");
        } catch (TimeoutException | IOException e) {
            System.out.println("TRAIN failed: " + e.getMessage());
            return 1;
        } finally {
            for (Process process : started) {
                process.destroyForcibly();
            }
        }
        if (!Files.isRegularFile(archive.path())) {
            System.out.println("TRAIN failed: the recording generation wrote no archive at " + archive.path()
                    + " (see its output above)");
            return 1;
        }
        archive.writeFingerprint(command, jvm);
        System.out.printf("TRAIN wrote %s (%d KB) in %d s; use it with: supervise --archive %s -- <command>%n",
                archive.path(), Files.size(archive.path()) / 1024,
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start), archive.path());
        return 0;
    }

    /** Starts a generation, its output copied to ours with its role in front, and waits until it is ready. */
    private static Process start(List<String> command, String role, Pattern ready, List<Process> started)
            throws IOException, InterruptedException, TimeoutException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        started.add(process);
        System.out.println("TRAIN " + role + " generation: pid " + process.pid());
        CountDownLatch readied = new CountDownLatch(1);
        Thread copier = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    System.out.println("  [" + role + "] " + line);
                    if (ready.matcher(line).find()) {
                        readied.countDown();
                    }
                }
            } catch (IOException ended) {
                // the process is gone
            }
        }, "train-" + role);
        copier.setDaemon(true);
        copier.start();
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!readied.await(100, TimeUnit.MILLISECONDS)) {
            if (!process.isAlive()) {
                throw new IOException("the " + role + " generation exited with status " + process.exitValue()
                        + " before its output matched '" + ready + "'");
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("the " + role + " generation's output did not match '" + ready + "' within " + WAIT);
            }
        }
        return process;
    }

    private static void awaitExit(Process process, String what) throws InterruptedException, TimeoutException {
        if (!process.waitFor(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new TimeoutException(what + " did not exit within " + WAIT);
        }
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--http wants HOST:PORT, not " + hostPort);
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }
}
