package dev.handoff.harness;

import dev.handoff.harness.load.FailureKind;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;

/**
 * The zero-downtime demo: starts the sample server, drives HTTP keep-alive load and a set of long-lived
 * echo connections at it, restarts it again and again (alternately as a deploy script would, by starting
 * the same command again, and by SIGHUP), with a slow request in flight across each restart, and prints
 * what happened. Exits non-zero if a request failed, a connection was reset or lost, or a restart did
 * not complete.
 */
final class Demo {

    private static final int HTTP_CLIENTS = 8;
    private static final int ECHO_CONNECTIONS = 16;

    private Demo() {
    }

    /**
     * {@code [restarts]}: restarts {@code serverJar}'s server that many times (default 10), each generation
     * started with {@code archive} where it fits (null: none).
     */
    static int run(Path serverJar, StartupArchive archive, List<String> args) throws Exception {
        if (args.size() > 1) {
            throw new IllegalArgumentException("too many arguments " + args + "; " + Main.USAGE);
        }
        int restarts = args.isEmpty() ? 10 : Integer.parseInt(args.get(0));
        Path dir = Files.createTempDirectory("handoff-demo");
        InetSocketAddress http = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        InetSocketAddress echo = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        List<String> serverArgs = List.of("--http", "127.0.0.1:" + http.getPort(), "--echo", "127.0.0.1:" + echo.getPort(),
                "--socket", dir.resolve("run").resolve("sample.sock").toString());
        System.out.printf("Handoff demo: %d restarts of `sample-server.jar %s`%n", restarts, String.join(" ", serverArgs));
        System.out.printf("  load: %d HTTP keep-alive clients, %d long-lived echo connections, one slow request across each restart%n",
                HTTP_CLIENTS, ECHO_CONNECTIONS);
        try (ServerProcesses servers = new ServerProcesses(serverJar, dir.resolve("servers.log"), archive)) {
            System.out.println("  server logs: " + servers.log());
            return new Demo().drive(servers, serverArgs, http, echo, restarts);
        }
    }

    private int drive(ServerProcesses servers, List<String> serverArgs, InetSocketAddress httpAddress,
                      InetSocketAddress echoAddress, int restarts) throws Exception {
        servers.start(serverArgs);
        long incumbent = servers.awaitReady(1, Duration.ofSeconds(60));
        System.out.printf("  READY pid=%d generation=1%n", incumbent);
        HttpClients http = HttpClients.start(httpAddress, HTTP_CLIENTS, Duration.ofMillis(1));
        LineClients echo = LineClients.open(echoAddress, ECHO_CONNECTIONS, Duration.ofMillis(50));
        HttpClient slowClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<Double> handoffMillis = new ArrayList<>();
        List<Double> drainMillis = new ArrayList<>();
        List<long[]> footprints = new ArrayList<>(); // {open fds, resident KiB} of each generation once its predecessor is gone
        int completed = 0;
        int slowOk = 0;
        int slowAcross = 0;
        long handedOver = 0;
        String failure = null;
        // The first request of a JDK HttpClient loads a lot of classes; do it before the restarts.
        slowClient.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpAddress.getPort() + "/")).build(),
                HttpResponse.BodyHandlers.discarding());
        Thread.sleep(500);
        try {
            for (int i = 1; i <= restarts; i++) {
                int generation = i + 1;
                CompletableFuture<HttpResponse<String>> slow = slowClient.sendAsync(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpAddress.getPort() + "/slow?ms=400")).build(),
                        HttpResponse.BodyHandlers.ofString());
                Thread.sleep(100); // the slow request is in the incumbent's hands now
                boolean bySignal = i % 2 == 0;
                if (bySignal) {
                    ServerProcesses.signal(incumbent, "HUP");
                } else {
                    servers.start(serverArgs);
                }
                long successor = servers.awaitReady(generation, Duration.ofSeconds(60));
                Matcher exit = ServerProcesses.HANDED_OVER.matcher(servers.awaitExit(incumbent, Duration.ofSeconds(60)));
                if (!exit.lookingAt()) {
                    throw new IllegalStateException("pid " + incumbent + " did not hand over");
                }
                Optional<Integer> status = servers.exitStatus(incumbent, Duration.ofSeconds(30));
                if (status.isPresent() && status.get() != 0) {
                    throw new IllegalStateException("pid " + incumbent + " exited with status " + status.get());
                }
                HttpResponse<String> slowResponse = slow.get();
                if (slowResponse.statusCode() == 200) {
                    slowOk++;
                    slowAcross += slowResponse.body().contains("\"pid\":" + incumbent) ? 1 : 0;
                }
                double millis = Double.parseDouble(exit.group(3));
                handoffMillis.add(millis);
                drainMillis.add(Double.parseDouble(exit.group(4)));
                handedOver += Long.parseLong(exit.group(5));
                completed++;
                System.out.printf("  restart %2d/%d (%s): pid %d -> %d (generation %d), handoff %.1f ms, %s connections handed over;"
                                + " requests %d, failed %d, echo connections alive %d/%d%n",
                        i, restarts, bySignal ? "SIGHUP" : "deploy", incumbent, successor, generation, millis, exit.group(5),
                        http.requests(), http.failures(), echo.alive(), echo.size());
                incumbent = successor;
                Thread.sleep(300);
                footprint(successor).ifPresent(footprints::add);
            }
        } catch (IOException | RuntimeException | TimeoutException | java.util.concurrent.ExecutionException e) {
            failure = e.toString();
            System.out.println("  restart failed: " + failure);
        } finally {
            http.close();
            echo.close();
        }
        Collections.sort(handoffMillis);
        Collections.sort(drainMillis);
        System.out.println();
        System.out.printf("restarts:                 %d of %d%n", completed, restarts);
        System.out.printf("HTTP requests:            %d (answered by %d different pids)%n", http.requests(), http.pids().size());
        System.out.printf("failed requests:          %d%s%n", http.failures(),
                http.failureSamples().isEmpty() ? "" : " e.g. " + http.failureSamples().get(0));
        System.out.printf("connection resets:        %d%n", http.failures(FailureKind.RESET));
        System.out.printf("slow requests completed:  %d of %d (%d answered by the old pid after its successor was READY)%n",
                slowOk, completed, slowAcross);
        System.out.printf("echo connections alive:   %d of %d (%d exchanges; each answered by at least %d pids)%s%n",
                echo.alive(), echo.size(), echo.exchanges(), echo.fewestPidsSeen(),
                echo.losses().isEmpty() ? "" : " lost: " + echo.losses().get(0));
        System.out.printf("connections handed over:  %d%n", handedOver);
        if (!handoffMillis.isEmpty()) {
            System.out.printf("handoff time:             p50 %.1f ms, p99 %.1f ms (successor connects -> READY, JVM start-up excluded)%n",
                    percentile(handoffMillis, 50), percentile(handoffMillis, 99));
            System.out.printf("drain time:               p50 %.0f ms, p99 %.0f ms (old process: taken over -> its last connection handed over)%n",
                    percentile(drainMillis, 50), percentile(drainMillis, 99));
        }
        System.out.printf("HTTP latency:             p50 %.2f ms, p99 %.2f ms%n", http.latencyMillis(50), http.latencyMillis(99));
        if (!footprints.isEmpty()) {
            long[] first = footprints.get(0);
            long[] last = footprints.get(footprints.size() - 1);
            System.out.printf("serving process:          %d open fds and %d MiB resident after the first restart, %d fds and %d MiB after the last%n",
                    first[0], first[1] / 1024, last[0], last[1] / 1024);
        }
        boolean ok = failure == null && completed == restarts && http.failures() == 0 && echo.alive() == echo.size()
                && slowOk == completed;
        System.out.println(ok ? "RESULT: zero downtime" : "RESULT: FAILED");
        return ok ? 0 : 1;
    }

    /** The serving process's open descriptors and resident memory (KiB), from /proc. */
    private static Optional<long[]> footprint(long pid) {
        try (java.util.stream.Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            long open = fds.count();
            long rss = Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                    .filter(line -> line.startsWith("VmRSS:")).findFirst()
                    .map(line -> Long.parseLong(line.replaceAll("\\D+", ""))).orElse(0L);
            return Optional.of(new long[] {open, rss});
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    static double percentile(List<Double> sorted, int percentile) {
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }
}
