package dev.handoff.benchmarks;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.Takeover;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Handing over {@code connections} established TCP connections (each with a small JSON attachment and
 * a few unread bytes), from {@link Takeover#handOver} in the incumbent until the successor's handler has
 * every one as a {@link SocketChannel}. Both generations live in this JVM; the client ends are held by
 * a child process. Setting up the connections and the successor is outside the measured time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 20)
public class ConnectionHandoffBenchmark extends FdBenchmarkSettings {

    @Param({"1000", "10000"})
    public int connections;

    private HandoffOptions options;
    private Process holder;
    private PrintWriter holderIn;
    private BufferedReader holderOut;
    private Handoff incumbent;
    private ServerSocketChannel listener;
    private Handoff successor;
    private Takeover takeover;
    private ServerSocketChannel successorListener;
    private List<Connection> offered;
    private final ConcurrentLinkedQueue<SocketChannel> adopted = new ConcurrentLinkedQueue<>();
    private volatile CountDownLatch allAdopted;

    @Setup(Level.Trial)
    public void startClientHolder() throws Exception {
        Path directory = Endpoints.directory();
        options = HandoffOptions.builder(directory.resolve("run").resolve("bench.sock")).probation(Duration.ZERO).build();
        holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ClientHolder.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        holderIn = new PrintWriter(holder.getOutputStream(), true, StandardCharsets.US_ASCII);
        holderOut = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.US_ASCII));
        incumbent = Handoff.start(options);
        listener = incumbent.listen("http", new InetSocketAddress("127.0.0.1", 0));
        incumbent.ready();
    }

    @Setup(Level.Invocation)
    public void connectAndStartSuccessor() throws Exception {
        int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        holderIn.println("connect " + port + " " + connections);
        offered = new ArrayList<>(connections);
        byte[] unread = "GET / HTTP/1.1\r\nHost: loc".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < connections; i++) {
            SocketChannel channel = listener.accept();
            channel.configureBlocking(false);
            offered.add(new Connection("http", channel, null, ByteBuffer.wrap(unread)));
        }
        expect("connected " + connections);
        allAdopted = new CountDownLatch(connections);
        successor = Handoff.start(options);
        successorListener = successor.listen("http", (InetSocketAddress) listener.getLocalAddress());
        successor.onConnection(connection -> {
            adopted.add(connection.channel());
            allAdopted.countDown();
        });
        successor.ready();
        takeover = incumbent.awaitExit(Duration.ofSeconds(30))
                .orElseThrow(() -> new IllegalStateException("the successor did not take over"));
    }

    @Benchmark
    public int handOver() throws Exception {
        List<Connection> kept = takeover.handOver(offered);
        if (!kept.isEmpty() || !allAdopted.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(kept.size() + " connections were not handed over");
        }
        return adopted.size();
    }

    @TearDown(Level.Invocation)
    public void closeAndPromoteSuccessor() throws Exception {
        SocketChannel channel;
        while ((channel = adopted.poll()) != null) {
            channel.close();
        }
        holderIn.println("close");
        expect("closed");
        listener.close();
        incumbent.close();
        incumbent = successor;
        listener = successorListener;
    }

    @TearDown(Level.Trial)
    public void stopClientHolder() throws Exception {
        listener.close();
        incumbent.close();
        holderIn.close();
        holder.waitFor(10, TimeUnit.SECONDS);
        holder.destroy();
    }

    private void expect(String line) throws IOException {
        String answer = holderOut.readLine();
        if (!line.equals(answer)) {
            throw new IllegalStateException("client holder said " + answer + ", expected " + line);
        }
    }
}
