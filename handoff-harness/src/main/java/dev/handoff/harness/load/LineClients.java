package dev.handoff.harness.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Long-lived line-echo connections, opened once and never replaced: every interval each one sends a line
 * and checks the answer, {@code <pid> <line>} (or {@code <pid> <server> <line>}, for a process with several
 * echo servers: an answer from another server than the one connected to shows). A connection that fails
 * once is lost for good, with the reason: the point is that none is lost across restarts while the pid
 * that answers changes.
 */
public final class LineClients implements AutoCloseable {

    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    private static final int READ_TIMEOUT_MILLIS = 10_000;

    /** One connection and what happened to it. */
    private static final class Line {
        private final int index;
        private final Socket socket;
        private final BufferedReader in;
        private final OutputStream out;
        private final Set<Long> pids = new HashSet<>();
        private volatile String lost;

        Line(int index, Socket socket) throws IOException {
            this.index = index;
            this.socket = socket;
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = socket.getOutputStream();
        }

        boolean alive() {
            return lost == null;
        }

        synchronized Set<Long> pids() {
            return Set.copyOf(pids);
        }

        synchronized void answeredBy(long pid) {
            pids.add(pid);
        }

        void lose(String why) {
            lost = "connection " + index + ": " + why;
        }
    }

    private final List<Line> lines;
    private final String server;
    private final long intervalMillis;
    private final AtomicLong exchanges = new AtomicLong();
    private final Thread thread;
    private volatile boolean running = true;

    private LineClients(List<Line> lines, String server, Duration interval) {
        this.lines = lines;
        this.server = server;
        this.intervalMillis = interval.toMillis();
        thread = new Thread(this::run, "line-clients");
        thread.setDaemon(true);
    }

    /** Opens {@code connections} connections to {@code target} and starts exchanging a line on each every {@code interval}. */
    public static LineClients open(InetSocketAddress target, int connections, Duration interval) throws IOException {
        return open(target, null, connections, interval);
    }

    /**
     * Like {@link #open(InetSocketAddress, int, Duration)}, to an echo server that names itself in each
     * answer ({@code <pid> <server> <line>}); {@code server} null: answers without a name.
     */
    public static LineClients open(InetSocketAddress target, String server, int connections, Duration interval)
            throws IOException {
        List<Line> lines = new ArrayList<>();
        try {
            for (int i = 0; i < connections; i++) {
                lines.add(new Line(i, connect(target)));
            }
        } catch (IOException e) {
            lines.forEach(LineClients::closeQuietly);
            throw e;
        }
        LineClients clients = new LineClients(lines, server, interval);
        clients.thread.start();
        return clients;
    }

    private static Socket connect(InetSocketAddress target) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(target, CONNECT_TIMEOUT_MILLIS);
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    public int size() {
        return lines.size();
    }

    /** Lines sent and answered correctly, over all connections. */
    public long exchanges() {
        return exchanges.get();
    }

    /** Connections still open and answering. */
    public int alive() {
        return (int) lines.stream().filter(Line::alive).count();
    }

    /** Why each lost connection was lost, in connection order. */
    public List<String> losses() {
        return lines.stream().map(line -> line.lost).filter(Objects::nonNull).toList();
    }

    /** The pids that answered on each connection, in connection order. */
    public List<Set<Long>> pidsPerConnection() {
        return lines.stream().map(Line::pids).toList();
    }

    /** The fewest different pids any surviving connection was answered by. */
    public int fewestPidsSeen() {
        return lines.stream().filter(Line::alive).mapToInt(line -> line.pids().size()).min().orElse(0);
    }

    /** Stops after the current round and closes every connection. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(TimeUnit.SECONDS.toMillis(30));
        lines.forEach(LineClients::closeQuietly);
    }

    /** Each round sends on every live connection first, then reads every answer: the connections overlap. */
    private void run() {
        for (long round = 1; running; round++) {
            for (Line line : lines) {
                if (line.alive()) {
                    send(line, text(line, round));
                }
            }
            for (Line line : lines) {
                if (line.alive()) {
                    receive(line, text(line, round));
                }
            }
            try {
                TimeUnit.MILLISECONDS.sleep(intervalMillis);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static String text(Line line, long round) {
        return "c" + line.index + "-" + round;
    }

    private static void send(Line line, String text) {
        try {
            line.out.write((text + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            line.lose("write of '" + text + "' failed: " + e);
        }
    }

    private void receive(Line line, String text) {
        try {
            String answer = line.in.readLine();
            if (answer == null) {
                line.lose("closed by the server before answering '" + text + "'");
                return;
            }
            int space = answer.indexOf(' ');
            String echo = server == null ? text : server + " " + text;
            if (space < 0 || !answer.substring(space + 1).equals(echo)) {
                line.lose("wrong answer to '" + text + "': " + answer);
                return;
            }
            line.answeredBy(Long.parseLong(answer.substring(0, space)));
            exchanges.incrementAndGet();
        } catch (IOException | NumberFormatException e) {
            line.lose("no answer to '" + text + "': " + e);
        }
    }

    private static void closeQuietly(Line line) {
        try {
            line.socket.close();
        } catch (IOException ignored) {
            // gone already
        }
    }
}
