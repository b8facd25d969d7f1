package dev.handoff.harness;

import dev.handoff.harness.load.FailureKind;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Three ways to restart the same server under the same load, one after the other in one run:
 * <ul>
 *   <li>{@code plain}: stop the running copy (SIGTERM, graceful), then start the new one;</li>
 *   <li>{@code reuseport}: start the new copy on the same ports with SO_REUSEPORT, then stop the old one;</li>
 *   <li>{@code handoff}: start the new copy, which takes listeners and connections over;</li>
 *   <li>{@code floor}: no restart at all: a second copy starts beside the server on other ports, says
 *       READY and stops. What starting a JVM costs the running one on this machine, whatever the strategy.</li>
 * </ul>
 * HTTP load comes from wrk (keep-alive, paced by a Lua delay so that the machine has room for the new
 * JVM), plus this program's own keep-alive clients, which tell resets apart, and long-lived echo
 * connections. Prints one table row per strategy.
 */
final class RestartComparison {

    private static final Pattern WRK_REQUESTS = Pattern.compile("(\\d+) requests in");
    private static final Pattern WRK_P99 = Pattern.compile("\\s99%\\s+([0-9.]+)(us|ms|s)");
    private static final Pattern WRK_SOCKET_ERRORS = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern WRK_NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    private record WrkResult(long requests, long connectErrors, long readErrors, long writeErrors, long timeouts,
                             long non2xx, double p99Millis) {
        long failed() {
            return connectErrors + readErrors + writeErrors + timeouts + non2xx;
        }
    }

    private record Row(String strategy, int restarts, WrkResult steady, WrkResult during, long ownRequests,
                       long ownFailures, long ownResets, int echoAlive, int echoTotal, List<Double> restartMillis) {
    }

    private static final int OWN_HTTP_CLIENTS = 2;
    private static final int ECHO_CONNECTIONS = 16;

    private final Path serverJar;
    private final StartupArchive archive;
    private final int restarts;
    private final int steadySeconds;
    private final int wrkConnections;
    private final int delayMillis;
    private final Path dir;

    private RestartComparison(Path serverJar, StartupArchive archive, int restarts, int steadySeconds, int wrkConnections,
                              int delayMillis, Path dir) {
        this.serverJar = serverJar;
        this.archive = archive;
        this.restarts = restarts;
        this.steadySeconds = steadySeconds;
        this.wrkConnections = wrkConnections;
        this.delayMillis = delayMillis;
        this.dir = dir;
    }

    /** Every copy of every strategy starts with {@code archive} where it fits (null: none). */
    static int run(Path serverJar, StartupArchive archive, List<String> args) throws Exception {
        int restarts = 50;
        int steady = 10;
        int connections = 32;
        int delay = 2;
        List<String> strategies = List.of("floor", "plain", "reuseport", "handoff");
        for (int i = 0; i + 1 < args.size(); i += 2) {
            String value = args.get(i + 1);
            switch (args.get(i)) {
                case "--restarts" -> restarts = Integer.parseInt(value);
                case "--steady-seconds" -> steady = Integer.parseInt(value);
                case "--connections" -> connections = Integer.parseInt(value);
                case "--delay-ms" -> delay = Integer.parseInt(value);
                case "--strategies" -> strategies = List.of(value.split(","));
                default -> throw new IllegalArgumentException("unknown option " + args.get(i)
                        + "; options: --restarts N --steady-seconds N --connections N --delay-ms N --strategies floor,plain,reuseport,handoff"
                        + " --server-jar PATH --archive PATH");
            }
        }
        Path dir = Files.createTempDirectory("handoff-compare");
        System.out.printf("Restart comparison: %d restarts per strategy (for floor: a JVM started beside the server); wrk -c%d with %d ms between requests per connection,"
                + " %d own keep-alive clients, %d echo connections; steady state measured for %d s (logs in %s)%n",
                restarts, connections, delay, OWN_HTTP_CLIENTS, ECHO_CONNECTIONS, steady, dir);
        RestartComparison comparison = new RestartComparison(serverJar, archive, restarts, steady, connections, delay, dir);
        List<Row> rows = new ArrayList<>();
        for (String strategy : strategies) {
            rows.add(comparison.measure(strategy));
        }
        printTable(rows);
        return 0;
    }

    private Row measure(String strategy) throws Exception {
        InetSocketAddress http = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        InetSocketAddress echo = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        List<String> serverArgs = arguments(strategy, http, echo, "sample.sock");
        List<String> besideArgs = arguments(strategy, new InetSocketAddress("127.0.0.1", ServerProcesses.freePort()),
                new InetSocketAddress("127.0.0.1", ServerProcesses.freePort()), "beside.sock");
        System.out.printf("%n[%s] starting%n", strategy);
        try (ServerProcesses servers = new ServerProcesses(serverJar, dir.resolve(strategy + ".log"), archive)) {
            long incumbent = startAndAwaitReady(servers, serverArgs);
            WrkResult steady = wrkResult(startWrk(http, steadySeconds));
            System.out.printf("[%s] steady state: %d requests, p99 %.2f ms, %d failed%n", strategy, steady.requests(),
                    steady.p99Millis(), steady.failed());
            HttpClients own = HttpClients.start(http, OWN_HTTP_CLIENTS, Duration.ofMillis(2));
            LineClients fleet = LineClients.open(echo, ECHO_CONNECTIONS, Duration.ofMillis(100));
            Process load = startWrk(http, 3600);
            List<Double> restartMillis = new ArrayList<>();
            try {
                Thread.sleep(1000);
                for (int i = 1; i <= restarts; i++) {
                    long start = System.nanoTime();
                    incumbent = strategy.equals("floor") ? startBeside(servers, besideArgs, incumbent)
                            : restart(strategy, servers, serverArgs, incumbent);
                    restartMillis.add((System.nanoTime() - start) / 1e6);
                    if (i % 10 == 0 || i == restarts) {
                        System.out.printf("[%s] %d/%d restarts; own clients: %d requests, %d failed; echo alive %d/%d%n",
                                strategy, i, restarts, own.requests(), own.failures(), fleet.alive(), fleet.size());
                    }
                    Thread.sleep(200);
                }
                Thread.sleep(1000);
            } finally {
                ServerProcesses.signal(load.pid(), "INT");
                own.close();
                fleet.close();
            }
            WrkResult during = wrkResult(load);
            return new Row(strategy, restarts, steady, during, own.requests(), own.failures(), own.failures(FailureKind.RESET),
                    fleet.alive(), fleet.size(), restartMillis);
        }
    }

    private List<String> arguments(String strategy, InetSocketAddress http, InetSocketAddress echo, String socket) {
        List<String> args = new ArrayList<>(List.of("--http", "127.0.0.1:" + http.getPort(), "--echo",
                "127.0.0.1:" + echo.getPort(), "--mode", strategy.equals("floor") ? "handoff" : strategy, "--drain-ms", "10000"));
        if (!args.contains("plain") && !args.contains("reuseport")) {
            args.addAll(List.of("--socket", dir.resolve(strategy).resolve(socket).toString()));
        }
        return args;
    }

    /** The floor: a copy with the same start-up work on other ports and socket, started and stopped. */
    private long startBeside(ServerProcesses servers, List<String> args, long serving) throws Exception {
        long beside = startAndAwaitReady(servers, args);
        ServerProcesses.signal(beside, "TERM");
        servers.awaitExit(beside, Duration.ofSeconds(60));
        awaitGone(beside);
        return serving;
    }

    private long startAndAwaitReady(ServerProcesses servers, List<String> args) throws Exception {
        Process process = servers.start(args);
        servers.await(line -> line.startsWith("READY pid=" + process.pid() + " "), "READY of pid " + process.pid(),
                Duration.ofSeconds(60));
        return process.pid();
    }

    /** Performs one restart the given way; returns the new process's pid once the old one is gone. */
    private long restart(String strategy, ServerProcesses servers, List<String> args, long incumbent) throws Exception {
        switch (strategy) {
            case "plain" -> {
                ServerProcesses.signal(incumbent, "TERM");
                servers.awaitExit(incumbent, Duration.ofSeconds(60));
                awaitGone(incumbent);
                return startAndAwaitReady(servers, args);
            }
            case "reuseport", "handoff" -> {
                long successor = startAndAwaitReady(servers, args);
                if (strategy.equals("reuseport")) {
                    ServerProcesses.signal(incumbent, "TERM");
                }
                servers.awaitExit(incumbent, Duration.ofSeconds(60));
                awaitGone(incumbent);
                return successor;
            }
            default -> throw new IllegalArgumentException("unknown strategy " + strategy);
        }
    }

    private static void awaitGone(long pid) throws Exception {
        var handle = ProcessHandle.of(pid);
        if (handle.isPresent()) {
            handle.get().onExit().get(60, TimeUnit.SECONDS);
        }
    }

    private Process startWrk(InetSocketAddress http, int seconds) throws IOException {
        Path script = dir.resolve("pace.lua");
        Files.writeString(script, "function delay()\n  return " + delayMillis + "\nend\n", StandardCharsets.US_ASCII);
        List<String> command = List.of("wrk", "-t2", "-c" + wrkConnections, "-d" + seconds + "s", "--latency",
                "--timeout", "5s", "-s", script.toString(), "http://127.0.0.1:" + http.getPort() + "/");
        try {
            return new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("wrk is needed for the comparison (apt-get install -y wrk): " + e.getMessage(), e);
        }
    }

    private static WrkResult wrkResult(Process process) throws Exception {
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new TimeoutException("wrk did not finish");
        }
        Matcher requests = WRK_REQUESTS.matcher(output);
        Matcher p99 = WRK_P99.matcher(output);
        if (!requests.find() || !p99.find()) {
            throw new IllegalStateException("unreadable wrk output:\n" + output);
        }
        double value = Double.parseDouble(p99.group(1));
        double millis = switch (p99.group(2)) {
            case "us" -> value / 1000;
            case "s" -> value * 1000;
            default -> value;
        };
        Matcher errors = WRK_SOCKET_ERRORS.matcher(output);
        boolean anyErrors = errors.find();
        Matcher non2xx = WRK_NON_2XX.matcher(output);
        return new WrkResult(Long.parseLong(requests.group(1)),
                anyErrors ? Long.parseLong(errors.group(1)) : 0, anyErrors ? Long.parseLong(errors.group(2)) : 0,
                anyErrors ? Long.parseLong(errors.group(3)) : 0, anyErrors ? Long.parseLong(errors.group(4)) : 0,
                non2xx.find() ? Long.parseLong(non2xx.group(1)) : 0, millis);
    }

    private static void printTable(List<Row> rows) {
        System.out.println();
        System.out.println("| strategy | restarts | wrk requests | wrk failed (connect/read/write/timeout/non-2xx) | own clients failed (resets) "
                + "| echo connections alive | p99 steady | p99 during restarts | restart time p50 / max |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (Row row : rows) {
            List<Double> times = new ArrayList<>(row.restartMillis());
            Collections.sort(times);
            WrkResult during = row.during();
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %d (%d/%d/%d/%d/%d) | %d of %d (%d) | %d of %d | %.2f ms | %.2f ms (%.1fx) | %.0f / %.0f ms |%n",
                    row.strategy(), row.restarts(), during.requests(), during.failed(), during.connectErrors(),
                    during.readErrors(), during.writeErrors(), during.timeouts(), during.non2xx(), row.ownFailures(),
                    row.ownRequests() + row.ownFailures(), row.ownResets(), row.echoAlive(), row.echoTotal(),
                    row.steady().p99Millis(), during.p99Millis(), during.p99Millis() / row.steady().p99Millis(),
                    times.isEmpty() ? 0 : Demo.percentile(times, 50), times.isEmpty() ? 0 : times.get(times.size() - 1));
        }
    }
}
