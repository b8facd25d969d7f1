package dev.handoff.testcontainers;

import dev.handoff.harness.load.FailureKind;
import dev.handoff.harness.load.Percentile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link ZeroDowntimeProbe} saw, with the assertions a restart test makes: {@link #assertNoFailures()},
 * {@link #assertEveryConnectionKept()}, {@link #assertEveryConnectionAnsweredByAtLeast(int)}.
 */
public final class ProbeReport {

    private static final int SAMPLES = 10;

    private final int clients;
    private final long exchanges;
    private final Map<FailureKind, Long> failures;
    private final List<String> failureSamples;
    private final long opened;
    private final long closedByServer;
    private final List<String> closeSamples;
    private final Map<String, List<String>> answeredBy;
    private final long[] latencies;

    private ProbeReport(int clients, long exchanges, Map<FailureKind, Long> failures, List<String> failureSamples,
                        long opened, long closedByServer, List<String> closeSamples, Map<String, List<String>> answeredBy,
                        long[] latencies) {
        this.clients = clients;
        this.exchanges = exchanges;
        this.failures = failures;
        this.failureSamples = failureSamples;
        this.opened = opened;
        this.closedByServer = closedByServer;
        this.closeSamples = closeSamples;
        this.answeredBy = answeredBy;
        this.latencies = latencies;
    }

    static ProbeReport of(List<ZeroDowntimeProbe.ProbeClient> probeClients) {
        long exchanges = 0;
        long opened = 0;
        long closed = 0;
        Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
        List<String> failureSamples = new ArrayList<>();
        List<String> closeSamples = new ArrayList<>();
        Map<String, List<String>> answeredBy = new LinkedHashMap<>();
        List<long[]> latencies = new ArrayList<>();
        for (ZeroDowntimeProbe.ProbeClient client : probeClients) {
            Tally tally = client.tally();
            synchronized (tally) {
                exchanges += tally.exchanges;
                opened += tally.opened;
                closed += tally.closedByServer;
                tally.failures.forEach((kind, count) -> failures.merge(kind, count, Long::sum));
                addSome(failureSamples, tally.failureSamples);
                addSome(closeSamples, tally.closeSamples);
                for (int i = 0; i < tally.answerers.size(); i++) {
                    answeredBy.put(tally.name + "#" + (i + 1), List.copyOf(tally.answerers.get(i)));
                }
            }
            latencies.add(client.latencies());
        }
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        return new ProbeReport(probeClients.size(), exchanges, Collections.unmodifiableMap(failures), List.copyOf(failureSamples),
                opened, closed, List.copyOf(closeSamples), Collections.unmodifiableMap(answeredBy), all);
    }

    private static void addSome(List<String> to, List<String> from) {
        for (String sample : from) {
            if (to.size() < SAMPLES) {
                to.add(sample);
            }
        }
    }

    /** Exchanges answered correctly. */
    public long exchanges() {
        return exchanges;
    }

    /** Failed exchanges (and failed connection attempts), of every kind. */
    public long failures() {
        return failures.values().stream().mapToLong(Long::longValue).sum();
    }

    public long failures(FailureKind kind) {
        return failures.getOrDefault(kind, 0L);
    }

    /** The first few failures: kind and what the client saw. */
    public List<String> failureSamples() {
        return failureSamples;
    }

    /** Connections the clients opened: one per client when the server never ended one. */
    public long connectionsOpened() {
        return opened;
    }

    /** Connections the server ended, gracefully ({@code Connection: close}) or not (a failure on them). */
    public long connectionsClosedByServer() {
        return closedByServer;
    }

    /**
     * For each connection ({@code <client>#<n>}, the n-th connection of that client), who answered on it,
     * in order, each run of answers from the same answerer once. Empty lists where the answers do not say.
     */
    public Map<String, List<String>> answeredBy() {
        return answeredBy;
    }

    /** Latency of the answered exchanges at {@code percentile} (0-100), in milliseconds; NaN with none. */
    public double latencyMillis(double percentile) {
        return Percentile.millis(latencies, percentile);
    }

    /** Fails unless no exchange failed, and at least one was answered. */
    public void assertNoFailures() {
        if (exchanges == 0) {
            throw new AssertionError("no exchange was answered at all: " + this);
        }
        if (failures() > 0) {
            throw new AssertionError(failures() + " exchanges failed " + failures + ", e.g. " + failureSamples + "; " + this);
        }
    }

    /** Fails unless every client kept its first connection to the end: the server ended none. */
    public void assertEveryConnectionKept() {
        if (closedByServer > 0 || opened != clients) {
            throw new AssertionError(closedByServer + " connections ended by the server, " + opened + " opened by "
                    + clients + " clients, e.g. " + closeSamples + "; " + this);
        }
    }

    /**
     * Fails unless every connection whose answers name who answered was answered by at least
     * {@code answerers} different ones (e.g. generations); connections whose answers name nobody are left
     * out, and it fails when no connection names anyone.
     */
    public void assertEveryConnectionAnsweredByAtLeast(int answerers) {
        boolean named = false;
        for (Map.Entry<String, List<String>> connection : answeredBy.entrySet()) {
            if (connection.getValue().isEmpty()) {
                continue;
            }
            named = true;
            long distinct = connection.getValue().stream().distinct().count();
            if (distinct < answerers) {
                throw new AssertionError("connection " + connection.getKey() + " was answered by " + connection.getValue()
                        + ", fewer than " + answerers + " answerers; " + this);
            }
        }
        if (!named) {
            throw new AssertionError("no answer named who answered (give the probe an answeredBy pattern); " + this);
        }
    }

    @Override
    public String toString() {
        return String.format("%d exchanges, %d failed %s, %d connections opened by %d clients, %d ended by the server, "
                        + "latency p50 %.1f ms, p99 %.1f ms, max %.1f ms", exchanges, failures(), failures, opened, clients,
                closedByServer, latencyMillis(50), latencyMillis(99), latencyMillis(100));
    }

    /** One client's counts, kept under its own lock. */
    static final class Tally {
        private final String name;
        private long exchanges;
        private long opened;
        private long closedByServer;
        private final Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
        private final List<String> failureSamples = new ArrayList<>();
        private final List<String> closeSamples = new ArrayList<>();
        private final List<List<String>> answerers = new ArrayList<>();

        Tally(String name) {
            this.name = name;
        }

        synchronized long exchanges() {
            return exchanges;
        }

        /** Distinct answerers on the current connection, -1 when it has none that names one (or no connection). */
        synchronized int currentAnswerers() {
            if (answerers.isEmpty() || answerers.get(answerers.size() - 1).isEmpty()) {
                return -1;
            }
            return (int) answerers.get(answerers.size() - 1).stream().distinct().count();
        }

        synchronized long failures() {
            return failures.values().stream().mapToLong(Long::longValue).sum();
        }

        synchronized void opened() {
            opened++;
            answerers.add(new ArrayList<>());
        }

        synchronized void answered(String answeredBy) {
            exchanges++;
            List<String> current = answerers.get(answerers.size() - 1);
            if (answeredBy != null && (current.isEmpty() || !current.get(current.size() - 1).equals(answeredBy))) {
                current.add(answeredBy);
            }
        }

        synchronized void failed(FailureKind kind, String what) {
            failures.merge(kind, 1L, Long::sum);
            if (failureSamples.size() < SAMPLES) {
                failureSamples.add(kind + ": " + what);
            }
        }

        synchronized void closedByServer(String why) {
            closedByServer++;
            if (closeSamples.size() < SAMPLES) {
                closeSamples.add(name + ": " + why);
            }
        }
    }
}
