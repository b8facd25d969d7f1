package dev.handoff.sample;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The zero-downtime demo: starts the sample server, keeps clients connecting to it, restarts it a number
 * of times by starting a new copy beside the running one, and prints what happened. Exits non-zero if
 * any request failed or any restart did not complete.
 */
final class Demo {

    private static final int CLIENTS = 4;
    private static final Pattern EXIT = Pattern.compile("EXIT pid=(\\d+) handed over to pid (\\d+) in ([0-9.]+) ms");

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final List<String> failureSamples = Collections.synchronizedList(new ArrayList<>());
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<Process> servers = new ArrayList<>();
    private InetSocketAddress address;

    private Demo() {
    }

    static int run(String[] args) throws Exception {
        int restarts = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        return new Demo().demo(restarts);
    }

    private int demo(int restarts) throws Exception {
        Path dir = Files.createTempDirectory("handoff-demo");
        Path socket = dir.resolve("run").resolve("sample.sock");
        Path log = dir.resolve("servers.log");
        try (ServerSocket probe = new ServerSocket(0)) {
            address = new InetSocketAddress("127.0.0.1", probe.getLocalPort());
        }
        String[] serverArgs = {"--echo", "127.0.0.1:" + address.getPort(), "--socket", socket.toString()};
        System.out.printf("Handoff demo: echo server on %s, rendezvous %s, %d restarts, %d clients (server logs: %s)%n",
                address, socket, restarts, CLIENTS, log);
        Process first = startServer(serverArgs, log);
        String ready = awaitLine("READY", 60);
        System.out.println("  " + ready);
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Thread client = new Thread(this::clientLoop, "client-" + i);
            client.start();
            clients.add(client);
        }
        Thread.sleep(500);
        List<Double> handoffMillis = new ArrayList<>();
        Process incumbent = first;
        int completed = 0;
        try {
            for (int i = 1; i <= restarts; i++) {
                Process successor = startServer(serverArgs, log);
                String successorReady = awaitLine("READY pid=" + successor.pid(), 60);
                String exit = awaitLine("EXIT pid=" + incumbent.pid(), 60);
                if (!incumbent.waitFor(30, TimeUnit.SECONDS) || incumbent.exitValue() != 0) {
                    throw new IllegalStateException("pid " + incumbent.pid() + " did not exit cleanly");
                }
                Matcher matcher = EXIT.matcher(exit);
                double millis = matcher.find() ? Double.parseDouble(matcher.group(3)) : Double.NaN;
                handoffMillis.add(millis);
                completed++;
                System.out.printf("  restart %d/%d: pid %d -> %s, handoff %.2f ms, requests %d, failed %d%n", i, restarts,
                        incumbent.pid(), successorReady.substring("READY ".length()), millis, requests.get(), failures.get());
                incumbent = successor;
                Thread.sleep(300);
            }
        } catch (RuntimeException | InterruptedException e) {
            System.out.println("  restart failed: " + e.getMessage());
        } finally {
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }
            for (Process server : servers) {
                server.destroy();
                server.waitFor(10, TimeUnit.SECONDS);
            }
        }
        Collections.sort(handoffMillis);
        System.out.println();
        System.out.printf("restarts:        %d of %d%n", completed, restarts);
        System.out.printf("requests:        %d%n", requests.get());
        System.out.printf("failed requests: %d%s%n", failures.get(), failureSamples.isEmpty() ? "" : " e.g. " + failureSamples.get(0));
        if (!handoffMillis.isEmpty()) {
            System.out.printf("handoff time:    p50 %.2f ms, p99 %.2f ms (successor connect -> READY)%n",
                    percentile(handoffMillis, 50), percentile(handoffMillis, 99));
        }
        boolean ok = completed == restarts && failures.get() == 0;
        System.out.println(ok ? "RESULT: zero downtime" : "RESULT: FAILED");
        return ok ? 0 : 1;
    }

    private Process startServer(String[] args, Path log) throws IOException {
        Process process = new ProcessBuilder(SampleServer.command(args))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        servers.add(process);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        return process;
    }

    private String awaitLine(String prefix, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<String> skipped = new ArrayList<>();
        while (true) {
            String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (line == null) {
                lines.addAll(skipped);
                throw new IllegalStateException("no '" + prefix + "' line within " + seconds + " s");
            }
            if (line.startsWith(prefix)) {
                lines.addAll(skipped);
                return line;
            }
            skipped.add(line);
        }
    }

    /** One short connection per request, as a plain HTTP/1.0 client would make. */
    private void clientLoop() {
        long n = 0;
        while (running.get()) {
            String payload = Thread.currentThread().getName() + "-" + n++;
            try (Socket socket = new Socket()) {
                socket.connect(address, 5000);
                socket.setSoTimeout(5000);
                OutputStream out = socket.getOutputStream();
                out.write((payload + "\n").getBytes(StandardCharsets.UTF_8));
                String answer = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
                if (answer == null || !answer.endsWith(" " + payload)) {
                    fail("bad answer: " + answer);
                } else {
                    requests.incrementAndGet();
                }
            } catch (IOException e) {
                fail(e.toString());
            }
        }
    }

    private void fail(String what) {
        failures.incrementAndGet();
        if (failureSamples.size() < 10) {
            failureSamples.add(what);
        }
    }

    private static double percentile(List<Double> sorted, int percentile) {
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }
}
