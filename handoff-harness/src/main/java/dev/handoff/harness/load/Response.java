package dev.handoff.harness.load;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One HTTP/1.x response read from a raw connection, framed by Content-Length, by chunked encoding or, on a
 * connection that closes after it, by the close (a 1xx, 204 or 304 has no body, whatever its headers say).
 * A connection that ends before the response is complete is an {@link EOFException}; anything unreadable
 * another {@link IOException}.
 */
public record Response(String statusLine, int status, boolean keepAlive, String body) {

    /** Reads one response from {@code in}, which must be buffered (it is read byte by byte). */
    public static Response read(InputStream in) throws IOException {
        String statusLine = line(in, "before the response");
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("unreadable status line: " + statusLine);
        }
        int status = number(parts[1], 10);
        int length = -1;
        boolean chunked = false;
        // HTTP/1.1 keeps a connection unless told otherwise, HTTP/1.0 only when told to.
        boolean keepAlive = parts[0].equals("HTTP/1.1");
        for (String header = line(in, "in the response head"); !header.isEmpty(); header = line(in, "in the response head")) {
            String lower = header.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = number(header.substring(15).trim(), 10);
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            } else if (lower.startsWith("connection:") && lower.contains("close")) {
                keepAlive = false;
            } else if (lower.startsWith("connection:") && lower.contains("keep-alive")) {
                keepAlive = true;
            }
        }
        if (status / 100 == 1 || status == 204 || status == 304) {
            return new Response(statusLine, status, keepAlive, ""); // a response that never has a body
        }
        if (!chunked && length < 0 && keepAlive) {
            throw new IOException("response without a length on a connection kept open: " + statusLine);
        }
        byte[] body = chunked ? chunkedBody(in) : length < 0 ? in.readAllBytes() : exactly(in, length); // else the close ends it
        return new Response(statusLine, status, keepAlive, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] chunkedBody(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (int size = chunkSize(in); size > 0; size = chunkSize(in)) {
            body.writeBytes(exactly(in, size));
            line(in, "after a chunk");
        }
        String trailer; // the trailer section, if any, ends with an empty line like the head
        do {
            trailer = line(in, "in the trailer");
        } while (!trailer.isEmpty());
        return body.toByteArray();
    }

    private static int chunkSize(InputStream in) throws IOException {
        String line = line(in, "before a chunk");
        int extension = line.indexOf(';');
        return number((extension < 0 ? line : line.substring(0, extension)).trim(), 16);
    }

    private static byte[] exactly(InputStream in, int length) throws IOException {
        byte[] bytes = in.readNBytes(length);
        if (bytes.length < length) {
            throw new EOFException("connection closed by the server in the middle of a response body");
        }
        return bytes;
    }

    private static String line(InputStream in, String where) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new EOFException("connection closed by the server " + (line.length() > 0 ? "mid-line " : "") + where);
            }
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }

    private static int number(String text, int radix) throws IOException {
        try {
            return Integer.parseInt(text, radix);
        } catch (NumberFormatException e) {
            throw new IOException("unreadable number in a response: " + text, e);
        }
    }
}
