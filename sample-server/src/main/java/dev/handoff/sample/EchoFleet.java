package dev.handoff.sample;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Long-lived echo connections, opened once and never replaced: every interval each one sends a line and
 * checks the answer ({@code <pid> <line>}). A connection that fails once is lost for good; the point is
 * that none is lost across restarts, while the pid that answers changes.
 */
final class EchoFleet implements AutoCloseable {

    /** One connection's story. */
    static final class Line {
        private final Socket socket;
        private final BufferedReader in;
        private final OutputStream out;
        private final Set<Long> pids = new HashSet<>();
        private volatile String lost;

        Line(InetSocketAddress target) throws IOException {
            socket = new Socket();
            socket.connect(target, 5000);
            socket.setSoTimeout(10_000);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = socket.getOutputStream();
        }

        String lost() {
            return lost;
        }

        synchronized Set<Long> pids() {
            return Set.copyOf(pids);
        }
    }

    private final List<Line> lines = new ArrayList<>();
    private final Thread thread;
    private final long intervalMillis;
    private final AtomicLong exchanges = new AtomicLong();
    private volatile boolean running = true;

    EchoFleet(InetSocketAddress target, int connections, long intervalMillis) throws IOException {
        this.intervalMillis = intervalMillis;
        for (int i = 0; i < connections; i++) {
            lines.add(new Line(target));
        }
        thread = new Thread(this::run, "echo-fleet");
        thread.setDaemon(true);
        thread.start();
    }

    int size() {
        return lines.size();
    }

    long exchanges() {
        return exchanges.get();
    }

    /** Connections still open and answering. */
    int alive() {
        return (int) lines.stream().filter(line -> line.lost == null).count();
    }

    /** The fewest different pids any surviving connection was answered by. */
    int fewestPidsSeen() {
        return lines.stream().filter(line -> line.lost == null).mapToInt(line -> line.pids().size()).min().orElse(0);
    }

    List<String> losses() {
        return lines.stream().map(Line::lost).filter(lost -> lost != null).toList();
    }

    private void run() {
        long round = 0;
        while (running) {
            round++;
            for (int i = 0; i < lines.size(); i++) {
                Line line = lines.get(i);
                if (line.lost == null) {
                    send(line, "c" + i + "-" + round);
                }
            }
            for (int i = 0; i < lines.size(); i++) {
                Line line = lines.get(i);
                if (line.lost == null) {
                    receive(line, "c" + i + "-" + round);
                }
            }
            try {
                TimeUnit.MILLISECONDS.sleep(intervalMillis);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static void send(Line line, String text) {
        try {
            line.out.write((text + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            line.lost = "write of '" + text + "' failed: " + e;
        }
    }

    private void receive(Line line, String text) {
        try {
            String answer = line.in.readLine();
            if (answer == null) {
                line.lost = "closed by the server before answering '" + text + "'";
                return;
            }
            int space = answer.indexOf(' ');
            if (space < 0 || !answer.substring(space + 1).equals(text)) {
                line.lost = "wrong answer to '" + text + "': " + answer;
                return;
            }
            synchronized (line) {
                line.pids.add(Long.parseLong(answer.substring(0, space)));
            }
            exchanges.incrementAndGet();
        } catch (IOException | NumberFormatException e) {
            line.lost = "no answer to '" + text + "': " + e;
        }
    }

    /** Stops after the current round and closes every connection. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(TimeUnit.SECONDS.toMillis(30));
        for (Line line : lines) {
            try {
                line.socket.close();
            } catch (IOException ignored) {
                // gone already
            }
        }
    }
}
