package dev.handoff.sample;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP/1.1 keep-alive load: each client thread keeps one connection and sends {@code GET} after
 * {@code GET} on it, and counts every request that does not come back 200 (and every reset among them).
 * A failed connection is replaced by a new one.
 */
final class HttpLoad implements AutoCloseable {

    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");

    private final InetSocketAddress target;
    private final String path;
    private final long pauseNanos;
    private final List<Thread> threads = new ArrayList<>();
    private final List<long[]> latencies = Collections.synchronizedList(new ArrayList<>());
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private final Set<Long> pids = ConcurrentHashMap.newKeySet();
    private final List<String> failureSamples = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean running = true;

    HttpLoad(InetSocketAddress target, String path, int clients, long pauseMicros) {
        this.target = target;
        this.path = path;
        this.pauseNanos = TimeUnit.MICROSECONDS.toNanos(pauseMicros);
        for (int i = 0; i < clients; i++) {
            Thread thread = new Thread(this::client, "http-client-" + i);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    long requests() {
        return requests.get();
    }

    long failures() {
        return failures.get();
    }

    long resets() {
        return resets.get();
    }

    Set<Long> pids() {
        return Set.copyOf(pids);
    }

    List<String> failureSamples() {
        return List.copyOf(failureSamples);
    }

    /** Latency percentile in milliseconds over every successful request so far. */
    double percentileMillis(double percentile) {
        long[] all;
        synchronized (latencies) {
            all = latencies.stream().flatMapToLong(Arrays::stream).filter(v -> v > 0).sorted().toArray();
        }
        if (all.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.min(all.length - 1, Math.max(0, Math.ceil(percentile / 100 * all.length) - 1));
        return all[index] / 1e6;
    }

    /** Stops the clients after their current request. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(15));
        }
    }

    private void client() {
        byte[] request = ("GET " + path + " HTTP/1.1\r\nHost: " + target.getHostString() + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        long[] samples = new long[1 << 16];
        int count = 0;
        Socket socket = null;
        InputStream in = null;
        while (running) {
            long start = System.nanoTime();
            try {
                if (socket == null) {
                    socket = new Socket();
                    socket.connect(target, 5000);
                    socket.setSoTimeout(10_000);
                    socket.setTcpNoDelay(true);
                    in = new BufferedInputStream(socket.getInputStream(), 4096);
                }
                OutputStream out = socket.getOutputStream();
                out.write(request);
                String body = readResponse(in);
                Matcher pid = PID.matcher(body);
                if (pid.find()) {
                    pids.add(Long.parseLong(pid.group(1)));
                }
                requests.incrementAndGet();
                if (count == samples.length) {
                    latencies.add(samples);
                    samples = new long[samples.length];
                    count = 0;
                }
                samples[count++] = System.nanoTime() - start;
            } catch (IOException e) {
                failures.incrementAndGet();
                if (e instanceof SocketException && String.valueOf(e.getMessage()).contains("reset")) {
                    resets.incrementAndGet();
                }
                if (failureSamples.size() < 10) {
                    failureSamples.add(e.toString());
                }
                closeQuietly(socket);
                socket = null;
            }
            if (pauseNanos > 0) {
                LockSupport.parkNanos(pauseNanos);
            }
        }
        closeQuietly(socket);
        latencies.add(Arrays.copyOf(samples, count));
    }

    /** Reads one response; anything but a complete 200 is an IOException. Returns the body. */
    private static String readResponse(InputStream in) throws IOException {
        String status = readLine(in);
        if (!status.startsWith("HTTP/1.1 200 ")) {
            throw new IOException("unexpected status: " + status);
        }
        int length = -1;
        String line;
        while (!(line = readLine(in)).isEmpty()) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        if (length < 0) {
            throw new IOException("response without Content-Length");
        }
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            throw new IOException("connection closed in the middle of a response body");
        }
        return new String(body, StandardCharsets.UTF_8);
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                throw new IOException("connection closed by the server" + (line.length() > 0 ? " mid-line" : ""));
            }
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }

    private static void closeQuietly(Socket socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // gone already
            }
        }
    }
}
