package dev.handoff.testcontainers;

import dev.handoff.harness.load.Response;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The probe's built-in protocols: HTTP/1.1 keep-alive and line echo, each over one plain socket. */
final class ProbeConnections {

    private ProbeConnections() {
    }

    static Socket connect(InetSocketAddress target, Duration timeout) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(target, Math.toIntExact(timeout.toMillis()));
            socket.setSoTimeout(Math.toIntExact(timeout.toMillis()));
            socket.setTcpNoDelay(true);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    private static String answeredBy(Pattern pattern, String text) {
        if (pattern == null) {
            return null;
        }
        Matcher matcher = pattern.matcher(text);
        return matcher.find() ? matcher.group(matcher.groupCount() == 0 ? 0 : 1) : null;
    }

    /** {@code GET path} after {@code GET path} on one connection; a 2xx answer is a success. */
    static final class Http implements ProbeConnection {
        private final Socket socket;
        private final InputStream in;
        private final byte[] request;
        private final Pattern identity;

        Http(InetSocketAddress target, String path, Pattern identity, Duration timeout) throws IOException {
            socket = connect(target, timeout);
            in = new BufferedInputStream(socket.getInputStream(), 4096);
            request = ("GET " + path + " HTTP/1.1\r\nHost: " + target.getHostString() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            this.identity = identity;
        }

        @Override
        public Answer exchange() throws IOException {
            socket.getOutputStream().write(request);
            Response response = Response.read(in);
            if (response.status() < 200 || response.status() > 299) {
                throw new BadAnswerException(response.statusLine());
            }
            return new Answer(answeredBy(identity, response.body()), !response.keepAlive());
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** A line sent, the same line expected back (the answer may put words before it, e.g. a pid). */
    static final class Line implements ProbeConnection {
        private final Socket socket;
        private final BufferedReader in;
        private final OutputStream out;
        private final Pattern identity;
        private long sent;

        Line(InetSocketAddress target, Pattern identity, Duration timeout) throws IOException {
            socket = connect(target, timeout);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = socket.getOutputStream();
            this.identity = identity;
        }

        @Override
        public Answer exchange() throws IOException {
            String line = "probe-" + socket.getLocalPort() + "-" + sent++;
            out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = in.readLine();
            if (answer == null) {
                throw new EOFException("the server closed the connection before it answered");
            }
            if (!answer.endsWith(line)) {
                throw new BadAnswerException("sent '" + line + "', answered '" + answer + "'");
            }
            return new Answer(answeredBy(identity, answer), false);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
