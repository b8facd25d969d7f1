package dev.handoff.harness.load;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP/1.1 keep-alive load on raw sockets: each client thread keeps one connection and sends {@code GET /}
 * after {@code GET /} on it, optionally pausing between requests. No request is ever retried (library
 * clients retry a request that met a closed connection, which would hide exactly what a restart test looks
 * for). A response that says {@code Connection: close} is followed by a fresh connection, as any client
 * does; so is a failure, which is counted by its {@link FailureKind kind}.
 */
public final class HttpClients implements AutoCloseable {

    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    private static final int READ_TIMEOUT_MILLIS = 10_000;
    private static final int FAILURE_SAMPLES = 10;

    private final InetSocketAddress target;
    private final byte[] request;
    private final long pauseNanos;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong requests = new AtomicLong();
    private final Map<FailureKind, LongAdder> failures = new EnumMap<>(FailureKind.class);
    private final List<String> failureSamples = Collections.synchronizedList(new ArrayList<>());
    private final Set<Long> pids = ConcurrentHashMap.newKeySet();
    private final AtomicLong connections = new AtomicLong();
    private final Map<Integer, List<Long>> pidsPerConnection = new ConcurrentHashMap<>();
    private final List<long[]> latencies = Collections.synchronizedList(new ArrayList<>()); // nanos, in chunks
    private volatile boolean running = true;

    private HttpClients(InetSocketAddress target, Duration pause) {
        this.target = target;
        this.request = ("GET / HTTP/1.1\r\nHost: " + target.getHostString() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        this.pauseNanos = pause.toNanos();
        for (FailureKind kind : FailureKind.values()) {
            failures.put(kind, new LongAdder());
        }
    }

    /** Starts {@code clients} client threads against {@code target}, each pausing {@code pause} after every request. */
    public static HttpClients start(InetSocketAddress target, int clients, Duration pause) {
        HttpClients load = new HttpClients(target, pause);
        for (int i = 0; i < clients; i++) {
            Thread thread = new Thread(load.new Client(), "http-client-" + i);
            thread.setDaemon(true);
            load.threads.add(thread);
            thread.start();
        }
        return load;
    }

    /** Requests answered with a complete 200 response. */
    public long requests() {
        return requests.get();
    }

    /**
     * Waits until {@code count} more requests have been answered than when called, at most
     * {@code timeout}: to see the current server answer after a restart.
     */
    public void awaitMoreRequests(long count, Duration timeout) throws InterruptedException {
        long target = requests() + count;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (requests() < target) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("fewer than " + count + " requests answered within " + timeout);
            }
            Thread.sleep(10);
        }
    }

    /** Failed requests, of every kind. */
    public long failures() {
        return failures.values().stream().mapToLong(LongAdder::sum).sum();
    }

    public long failures(FailureKind kind) {
        return failures.get(kind).sum();
    }

    /** The first few failures, each as its kind and what the client saw. */
    public List<String> failureSamples() {
        synchronized (failureSamples) {
            return List.copyOf(failureSamples);
        }
    }

    /** The pids named in the bodies ({@code {"pid":N,...}}) of the answers so far. */
    public Set<Long> pids() {
        return Set.copyOf(pids);
    }

    /** Connections opened so far: as many as clients when no connection was ever closed. */
    public long connections() {
        return connections.get();
    }

    /**
     * For each connection (by its local port), the pids that answered on it, in order, each once: a
     * connection that moved between generations shows every one of them.
     */
    public Map<Integer, List<Long>> pidsPerConnection() {
        Map<Integer, List<Long>> copy = new TreeMap<>();
        pidsPerConnection.forEach((port, seen) -> {
            synchronized (seen) {
                copy.put(port, List.copyOf(seen));
            }
        });
        return copy;
    }

    /** Latency of successful requests at {@code percentile} (0-100), in milliseconds; complete after {@link #close}. */
    public double latencyMillis(double percentile) {
        long[] all;
        synchronized (latencies) {
            all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        }
        return Percentile.millis(all, percentile);
    }

    /** Stops the clients after their current request and closes their connections. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(15));
        }
    }

    private void failed(FailureKind kind, String what) {
        failures.get(kind).increment();
        synchronized (failureSamples) {
            if (failureSamples.size() < FAILURE_SAMPLES) {
                failureSamples.add(kind + ": " + what);
            }
        }
    }

    /** One client thread: its connection, and its latencies until they are handed to the shared list. */
    private final class Client implements Runnable {
        private long[] samples = new long[1 << 16];
        private int count;
        private Socket socket;
        private InputStream in;

        @Override
        public void run() {
            while (running) {
                exchange();
                if (pauseNanos > 0) {
                    LockSupport.parkNanos(pauseNanos);
                }
            }
            disconnect();
            latencies.add(Arrays.copyOf(samples, count));
        }

        private void exchange() {
            long start = System.nanoTime();
            try {
                if (socket == null) {
                    connect();
                }
                socket.getOutputStream().write(request);
                Response response = Response.read(in);
                if (response.status() != 200) {
                    failed(FailureKind.BAD_STATUS, response.statusLine());
                    disconnect();
                    return;
                }
                record(System.nanoTime() - start, response.body(), socket.getLocalPort());
                if (!response.keepAlive()) {
                    disconnect();
                }
            } catch (IOException e) {
                failed(FailureKind.of(e), e.toString());
                disconnect();
            }
        }

        private void connect() throws IOException {
            socket = new Socket();
            try {
                socket.connect(target, CONNECT_TIMEOUT_MILLIS);
                connections.incrementAndGet();
                socket.setSoTimeout(READ_TIMEOUT_MILLIS);
                socket.setTcpNoDelay(true);
                in = new BufferedInputStream(socket.getInputStream(), 4096);
            } catch (IOException e) {
                disconnect();
                throw e;
            }
        }

        private void record(long nanos, String body, int localPort) {
            requests.incrementAndGet();
            Matcher pid = PID.matcher(body);
            if (pid.find()) {
                long answered = Long.parseLong(pid.group(1));
                pids.add(answered);
                List<Long> seen = pidsPerConnection.computeIfAbsent(localPort, port -> new ArrayList<>());
                synchronized (seen) {
                    if (seen.isEmpty() || seen.get(seen.size() - 1) != answered) {
                        seen.add(answered);
                    }
                }
            }
            if (count == samples.length) {
                latencies.add(samples);
                samples = new long[samples.length];
                count = 0;
            }
            samples[count++] = nanos;
        }

        private void disconnect() {
            if (socket != null) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // gone already
                }
            }
            socket = null;
            in = null;
        }
    }
}
