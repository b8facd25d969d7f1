package dev.handoff.spring.warmup;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Requests on a keep-alive HTTP/1.1 connection, one after the other, as a client of the application would
 * send them: enough of a client to read any response's length (Content-Length, chunked, or up to a close).
 */
final class WarmUpClient {

    static final String USER_AGENT = "handoff-warm-up";
    private static final int TIMEOUT_MILLIS = 5_000;

    private WarmUpClient() {
    }

    /** What the requests were answered with: the count per status code. */
    record Outcome(int requests, Map<Integer, Integer> statuses) {
    }

    /**
     * Sends up to {@code requests} requests, the paths in turn, until the deadline ({@link System#nanoTime()}).
     * Reconnects where a response ends its connection.
     */
    static Outcome run(InetSocketAddress server, List<String> paths, int requests, long deadline) throws IOException {
        Map<Integer, Integer> statuses = new TreeMap<>();
        int sent = 0;
        Socket socket = null;
        InputStream in = null;
        try {
            while (sent < requests && System.nanoTime() - deadline < 0) {
                if (socket == null) {
                    socket = new Socket();
                    socket.connect(server, TIMEOUT_MILLIS);
                    socket.setSoTimeout(TIMEOUT_MILLIS);
                    socket.setTcpNoDelay(true);
                    in = new BufferedInputStream(socket.getInputStream(), 8192);
                }
                String path = paths.get(sent % paths.size());
                OutputStream out = socket.getOutputStream();
                out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + USER_AGENT + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Response response = Response.read(in);
                sent++;
                statuses.merge(response.status(), 1, Integer::sum);
                if (response.closes()) {
                    socket.close();
                    socket = null;
                }
            }
        } finally {
            if (socket != null) {
                socket.close();
            }
        }
        return new Outcome(sent, statuses);
    }

    /** A response read to its end: its status, and whether the server ends the connection after it. */
    private record Response(int status, boolean closes) {

        static Response read(InputStream in) throws IOException {
            String statusLine = line(in);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP/1.x response: " + statusLine);
            }
            int status = Integer.parseInt(parts[1]);
            long length = -1;
            boolean chunked = false;
            boolean closes = parts[0].equals("HTTP/1.0");
            for (String header = line(in); !header.isEmpty(); header = line(in)) {
                int colon = header.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = header.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
                switch (name) {
                    case "content-length" -> length = Long.parseLong(value);
                    case "transfer-encoding" -> chunked = value.contains("chunked");
                    case "connection" -> closes |= value.contains("close");
                    default -> { }
                }
            }
            if (chunked) {
                for (long size = chunkSize(line(in)); size > 0; size = chunkSize(line(in))) {
                    in.skipNBytes(size);
                    line(in); // the CRLF after the chunk
                }
                for (String trailer = line(in); !trailer.isEmpty(); trailer = line(in)) {
                    continue; // trailers, up to the empty line
                }
            } else if (length >= 0) {
                in.skipNBytes(length);
            } else if (status >= 200 && status != 204 && status != 304) {
                in.transferTo(OutputStream.nullOutputStream()); // the body lasts until the server closes
                closes = true;
            }
            return new Response(status, closes);
        }

        private static long chunkSize(String line) {
            int extension = line.indexOf(';');
            return Long.parseLong((extension < 0 ? line : line.substring(0, extension)).trim(), 16);
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new EOFException("the server closed the connection mid-response");
                }
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            return line.toString();
        }
    }
}
