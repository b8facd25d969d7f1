package dev.handoff.testcontainers;

import dev.handoff.harness.load.FailureKind;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Clients that keep talking to a server while it restarts, and say afterwards what they saw: requests,
 * failures by kind, connections the server ended, who answered on each connection, latency. Each client
 * keeps one connection and never retries: a request that met a restart fails and is counted, as it would
 * be for a real client behind a proxy that does not retry.
 *
 * <pre>{@code
 * ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
 *         .http(new InetSocketAddress(host, port), 4)
 *         .start();
 * container.restartBySignal();
 * ProbeReport report = probe.stop();
 * report.assertNoFailures();
 * report.assertEveryConnectionKept();
 * }</pre>
 */
public final class ZeroDowntimeProbe implements AutoCloseable {

    private static final Duration STOP_WAIT = Duration.ofSeconds(30);

    private final List<ProbeClient> clients;
    private final List<Thread> threads = new ArrayList<>();
    private ProbeReport report;

    private ZeroDowntimeProbe(List<ProbeClient> clients) {
        this.clients = clients;
        for (ProbeClient client : clients) {
            Thread thread = new Thread(client, "probe-" + client.name());
            thread.setDaemon(true);
            threads.add(thread);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Exchanges answered so far, over all clients. */
    public long exchanges() {
        return clients.stream().mapToLong(ProbeClient::exchanges).sum();
    }

    /** Failed exchanges so far, over all clients. */
    public long failures() {
        return clients.stream().mapToLong(client -> client.tally().failures()).sum();
    }

    /**
     * Waits until {@code count} more exchanges have been answered than when called, at most {@code timeout}:
     * to see the server answer after a restart before the next.
     */
    public void awaitMoreExchanges(long count, Duration timeout) throws InterruptedException {
        long target = exchanges() + count;
        awaitUntil(() -> exchanges() >= target, () -> "fewer than " + count + " exchanges answered within " + timeout, timeout);
    }

    /**
     * Waits until the current connection of every client whose answers name who answered has been answered
     * by at least {@code answerers} different ones (e.g. after the restart to generation 3, by 3
     * generations), at most {@code timeout}: a restart is over for the clients when their connections have
     * moved, which comes after the new generation is READY.
     */
    public void awaitEveryConnectionAnsweredByAtLeast(int answerers, Duration timeout) throws InterruptedException {
        awaitUntil(() -> {
            List<Integer> counts = namedAnswerersPerConnection();
            return !counts.isEmpty() && counts.stream().allMatch(count -> count >= answerers);
        }, () -> "not every connection was answered by " + answerers + " answerers within " + timeout
                + " (answerers on each connection that names them: " + namedAnswerersPerConnection() + ")", timeout);
    }

    private List<Integer> namedAnswerersPerConnection() {
        return clients.stream().map(client -> client.tally().currentAnswerers()).filter(count -> count >= 0).toList();
    }

    private static void awaitUntil(BooleanSupplier done, Supplier<String> failure, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(failure.get());
            }
            Thread.sleep(10);
        }
    }

    /** Stops every client after its current exchange, closes their connections, and reports. */
    public synchronized ProbeReport stop() throws InterruptedException {
        if (report == null) {
            clients.forEach(ProbeClient::stop);
            for (Thread thread : threads) {
                thread.join(STOP_WAIT.toMillis());
                if (thread.isAlive()) {
                    throw new IllegalStateException(thread.getName() + " did not stop within " + STOP_WAIT);
                }
            }
            report = ProbeReport.of(clients);
        }
        return report;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    /** What the probe runs: one or more kinds of clients, each against its own target. */
    public static final class Builder {
        private final List<ProbeClient> clients = new ArrayList<>();
        private Duration pause = Duration.ofMillis(5);
        private Duration timeout = Duration.ofSeconds(10);

        private Builder() {
        }

        /** {@code clients} HTTP/1.1 keep-alive clients sending {@code GET /}; any 2xx is a success. */
        public Builder http(InetSocketAddress target, int clients) {
            return http(target, clients, "/", null);
        }

        /**
         * {@code clients} HTTP/1.1 keep-alive clients sending {@code GET path}; {@code answeredBy} (null: not
         * known) finds who answered in a response body, its group 1 (or the whole match).
         */
        public Builder http(InetSocketAddress target, int clients, String path, Pattern answeredBy) {
            return connections("http", clients, () -> new ProbeConnections.Http(target, path, answeredBy, timeout));
        }

        /**
         * {@code clients} line-echo clients: each sends a line and expects an answer that ends with it;
         * {@code answeredBy} (null: not known) finds who answered in the answer line.
         */
        public Builder lines(InetSocketAddress target, int clients, Pattern answeredBy) {
            return connections("line", clients, () -> new ProbeConnections.Line(target, answeredBy, timeout));
        }

        /** {@code clients} clients of your own protocol, each on connections that {@code factory} opens. */
        public Builder connections(String name, int clients, ProbeConnection.Factory factory) {
            for (int i = 0; i < clients; i++) {
                this.clients.add(new ProbeClient(name + "-" + i, factory));
            }
            return this;
        }

        /** How long each client waits between two exchanges (default 5 ms). */
        public Builder pause(Duration pause) {
            this.pause = pause;
            return this;
        }

        /** How long a built-in client waits to connect or for an answer before it counts a timeout (default 10 s). */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Starts the clients; each opens its first connection at once. */
        public ZeroDowntimeProbe start() {
            if (clients.isEmpty()) {
                throw new IllegalStateException("no clients: add http(...), lines(...) or connections(...)");
            }
            clients.forEach(client -> client.pause = pause.toNanos());
            ZeroDowntimeProbe probe = new ZeroDowntimeProbe(List.copyOf(clients));
            probe.threads.forEach(Thread::start);
            return probe;
        }
    }

    /** One client: its connection, and what it saw. Its counters are read by other threads, hence synchronized. */
    static final class ProbeClient implements Runnable {
        private final String name;
        private final ProbeConnection.Factory factory;
        private final ProbeReport.Tally tally;
        private volatile boolean running = true;
        private long pause;
        private long[] latencies = new long[1 << 12];
        private int latencyCount;

        ProbeClient(String name, ProbeConnection.Factory factory) {
            this.name = name;
            this.factory = factory;
            this.tally = new ProbeReport.Tally(name);
        }

        String name() {
            return name;
        }

        long exchanges() {
            return tally.exchanges();
        }

        ProbeReport.Tally tally() {
            return tally;
        }

        long[] latencies() {
            return Arrays.copyOf(latencies, latencyCount);
        }

        void stop() {
            running = false;
        }

        @Override
        public void run() {
            ProbeConnection connection = null;
            while (running) {
                try {
                    if (connection == null) {
                        connection = factory.open();
                        tally.opened();
                    }
                    long start = System.nanoTime();
                    ProbeConnection.Answer answer = connection.exchange();
                    record(System.nanoTime() - start);
                    tally.answered(answer.answeredBy());
                    if (answer.closing()) {
                        tally.closedByServer("the server said it closes the connection");
                        connection = closeQuietly(connection);
                    }
                } catch (ProbeConnection.BadAnswerException e) {
                    tally.failed(FailureKind.BAD_STATUS, e.getMessage());
                } catch (IOException e) {
                    FailureKind kind = FailureKind.of(e);
                    tally.failed(kind, e.toString());
                    if (connection != null) {
                        tally.closedByServer(kind + ": " + e.getMessage());
                    }
                    connection = closeQuietly(connection);
                }
                if (pause > 0) {
                    LockSupport.parkNanos(pause);
                }
            }
            closeQuietly(connection);
        }

        private void record(long nanos) {
            if (latencyCount == latencies.length) {
                latencies = Arrays.copyOf(latencies, latencies.length * 2);
            }
            latencies[latencyCount++] = nanos;
        }

        private static ProbeConnection closeQuietly(ProbeConnection connection) {
            if (connection != null) {
                try {
                    connection.close();
                } catch (IOException ignored) {
                    // gone either way
                }
            }
            return null;
        }
    }
}
