package dev.handoff.spring;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Raw HTTP/1.1 keep-alive clients (no library client: those retry a request that met a closed
 * connection, which would hide exactly what the tests look for). A response with {@code Connection:
 * close} is followed by a new connection, as any client does; anything else that goes wrong is a failure.
 */
final class KeepAliveClients implements AutoCloseable {

    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");

    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong requests = new AtomicLong();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final Set<Long> pids = ConcurrentHashMap.newKeySet();
    private volatile boolean running = true;

    KeepAliveClients(int port, int clients) {
        for (int i = 0; i < clients; i++) {
            Thread thread = new Thread(() -> run(port), "keep-alive-client-" + i);
            thread.setDaemon(true);
            thread.start();
            threads.add(thread);
        }
    }

    long requests() {
        return requests.get();
    }

    List<String> failures() {
        return List.copyOf(failures);
    }

    Set<Long> pids() {
        return Set.copyOf(pids);
    }

    private void run(int port) {
        byte[] request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        while (running) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                socket.setSoTimeout(10_000);
                DataInputStream in = new DataInputStream(socket.getInputStream());
                boolean open = true;
                while (running && open) {
                    socket.getOutputStream().write(request);
                    open = readResponse(in);
                    requests.incrementAndGet();
                    Thread.sleep(1);
                }
            } catch (IOException e) {
                failures.add(e.toString());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Reads one 200 response; returns whether the connection stays open. */
    private boolean readResponse(DataInputStream in) throws IOException {
        String status = line(in);
        if (!status.startsWith("HTTP/1.1 200")) {
            throw new IOException("status " + status);
        }
        int length = -1;
        boolean chunked = false;
        boolean keepAlive = true;
        for (String header = line(in); !header.isEmpty(); header = line(in)) {
            String lower = header.toLowerCase(java.util.Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Integer.parseInt(header.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            } else if (lower.startsWith("connection:") && lower.contains("close")) {
                keepAlive = false;
            }
        }
        StringBuilder body = new StringBuilder();
        if (chunked) {
            for (int size = Integer.parseInt(line(in).trim(), 16); size > 0; size = Integer.parseInt(line(in).trim(), 16)) {
                byte[] chunk = new byte[size];
                in.readFully(chunk);
                body.append(new String(chunk, StandardCharsets.UTF_8));
                line(in);
            }
            line(in);
        } else if (length >= 0) {
            byte[] bytes = new byte[length];
            in.readFully(bytes);
            body.append(new String(bytes, StandardCharsets.UTF_8));
        } else {
            throw new IOException("response without a length");
        }
        Matcher pid = PID.matcher(body);
        if (pid.find()) {
            pids.add(Long.parseLong(pid.group(1)));
        }
        return keepAlive;
    }

    private static String line(DataInputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed by the server" + (line.length() > 0 ? " mid-line" : " before a response"));
            }
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread thread : threads) {
            thread.join(15_000);
        }
    }
}
