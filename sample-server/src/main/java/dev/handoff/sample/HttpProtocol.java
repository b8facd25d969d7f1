package dev.handoff.sample;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Just enough HTTP/1.1 for the demo: {@code GET /} answers the serving process's pid and generation as
 * JSON, {@code GET /slow?ms=N} answers the same after N ms. Keep-alive as HTTP/1.1 says (HTTP/1.0 only
 * on request), request bodies with Content-Length are read and ignored, pipelined requests are answered
 * in order.
 */
final class HttpProtocol implements Protocol {

    private static final int MAX_HEAD = 16 * 1024;
    private static final long MAX_SLOW_MS = 60_000;

    private final String identity;

    HttpProtocol(long pid, int generation) {
        this.identity = "\"pid\":" + pid + ",\"generation\":" + generation;
    }

    @Override
    public void process(ClientConnection connection) {
        while (!connection.busy() && connection.channel().isOpen()) {
            int headEnd = headEnd(connection.input(), connection.inputLength());
            if (headEnd < 0) {
                if (connection.inputLength() > MAX_HEAD) {
                    connection.send(response(431, "{\"error\":\"request head too large\"}", false), true);
                }
                return;
            }
            Request request = Request.parse(new String(connection.input(), 0, headEnd, StandardCharsets.ISO_8859_1));
            if (request == null) {
                connection.send(response(400, "{\"error\":\"bad request\"}", false), true);
                return;
            }
            int total = headEnd + 4 + request.contentLength();
            if (connection.inputLength() < total) {
                return;
            }
            connection.consume(total);
            connection.served();
            answer(connection, request);
            if (!request.keepAlive()) {
                return; // the connection closes once the answer is written
            }
        }
    }

    private void answer(ClientConnection connection, Request request) {
        if (!request.method().equals("GET") && !request.method().equals("HEAD")) {
            connection.send(response(405, "{\"error\":\"only GET\"}", request.keepAlive()), !request.keepAlive());
        } else if (request.path().equals("/")) {
            connection.send(response(200, "{" + identity + "}", request.keepAlive()), !request.keepAlive());
        } else if (request.path().equals("/slow")) {
            long ms = Math.min(MAX_SLOW_MS, Math.max(0, request.longParameter("ms", 100)));
            connection.busy(true);
            connection.loop().schedule(ms, () -> {
                connection.busy(false);
                if (connection.channel().isOpen()) {
                    connection.send(response(200, "{" + identity + ",\"sleptMs\":" + ms + "}", request.keepAlive()),
                            !request.keepAlive());
                    process(connection);
                }
            });
        } else {
            connection.send(response(404, "{\"error\":\"not found\"}", request.keepAlive()), !request.keepAlive());
        }
    }

    private static byte[] response(int status, String json, boolean keepAlive) {
        String reason = switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            default -> "Request Header Fields Too Large";
        };
        byte[] body = (json + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\nConnection: " + (keepAlive ? "keep-alive" : "close") + "\r\n\r\n";
        byte[] headBytes = head.getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[headBytes.length + body.length];
        System.arraycopy(headBytes, 0, all, 0, headBytes.length);
        System.arraycopy(body, 0, all, headBytes.length, body.length);
        return all;
    }

    /** Index of the blank line that ends the request head, or -1. */
    private static int headEnd(byte[] input, int length) {
        for (int i = 3; i < length; i++) {
            if (input[i] == '\n' && input[i - 1] == '\r' && input[i - 2] == '\n' && input[i - 3] == '\r') {
                return i - 3;
            }
        }
        return -1;
    }

    /** The parts of a request head the server looks at. */
    record Request(String method, String path, String query, boolean keepAlive, int contentLength) {

        static Request parse(String head) {
            String[] lines = head.split("\r\n");
            String[] requestLine = lines[0].split(" ");
            if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.")) {
                return null;
            }
            boolean http11 = requestLine[2].equals("HTTP/1.1");
            String connection = null;
            int contentLength = 0;
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon <= 0) {
                    return null;
                }
                String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = lines[i].substring(colon + 1).trim();
                if (name.equals("connection")) {
                    connection = value.toLowerCase(Locale.ROOT);
                } else if (name.equals("content-length")) {
                    try {
                        contentLength = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        return null;
                    }
                    if (contentLength < 0 || contentLength > 1 << 20) {
                        return null;
                    }
                }
            }
            boolean keepAlive = http11 ? !"close".equals(connection) : "keep-alive".equals(connection);
            String target = requestLine[1];
            int question = target.indexOf('?');
            return new Request(requestLine[0], question < 0 ? target : target.substring(0, question),
                    question < 0 ? "" : target.substring(question + 1), keepAlive, contentLength);
        }

        long longParameter(String name, long fallback) {
            for (String pair : query.split("&")) {
                if (pair.startsWith(name + "=")) {
                    try {
                        return Long.parseLong(pair.substring(name.length() + 1));
                    } catch (NumberFormatException e) {
                        return fallback;
                    }
                }
            }
            return fallback;
        }
    }
}
