package dev.handoff.quickstart;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.load.HttpClients;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's Spring Boot quick start, followed the way a new user would: a fresh Spring Boot 4.1.0
 * application (what start.spring.io makes: the starter parent, web MVC, actuator, one controller) gets the
 * README's snippets, read from the README itself; its own Maven builds it against the artifacts this build
 * made; the README's {@code java -jar} line (no JVM flags) starts it; the same line again restarts it
 * under keep-alive load. No request fails, both generations answer, {@code /actuator/handoff} is exposed,
 * and the JVM warns about nothing it was not given.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QuickStartIT {

    private static final Duration START = Duration.ofSeconds(120);
    private static final Pattern TOMCAT_PORT = Pattern.compile("Tomcat started on port (\\d+)");

    private final Path work = Path.of(System.getProperty("quickstart.work"));
    /** The rendezvous sockets: a short path (a Unix socket address holds 107 bytes), not under target/. */
    @TempDir
    Path sockets;
    private ReadmeSnippets readme;
    private Path app;
    private Path settings;

    /** The fresh application, built by the README's build line. */
    @BeforeAll
    void built() throws Exception {
        readme = ReadmeSnippets.read(Path.of(System.getProperty("quickstart.readme")));
        app = FreshApp.write(work.resolve("myapp"), readme);
        settings = Files.writeString(work.resolve("settings.xml"), Settings.xml(
                Path.of(System.getProperty("quickstart.repository")),
                Path.of(System.getProperty("quickstart.outerRepository"))));
        assertEquals(2, runBlock().size(), "the README's run block: a build line and a java line");
        Process maven = maven(runBlock().get(0)).redirectErrorStream(true)
                .redirectOutput(work.resolve("build.log").toFile()).start();
        assertTrue(maven.waitFor(10, TimeUnit.MINUTES), "the build ends");
        assertEquals(0, maven.exitValue(), "the build:\n" + Files.readString(work.resolve("build.log")));
    }

    @Test
    void aFreshAppBuiltFromTheReadmeSnippetsRestartsUnderLoadWithNoFailedRequestAndNoFlagsTyped() throws Exception {
        List<String> javaLine = javaCommand(runBlock().get(1), sockets.resolve("run").resolve("handoff.sock"));
        try (Generation first = Generation.start(work, new ProcessBuilder(javaLine).directory(app.toFile()), 1)) {
            assertTrue(first.output().stream().noneMatch(line -> line.contains("WARNING")),
                    "the manifest gave the JVM all it needs:\n" + String.join("\n", first.output()));
            HttpClients load = HttpClients.start(new InetSocketAddress("127.0.0.1", first.port()), 4, Duration.ofMillis(2));
            try {
                load.awaitMoreRequests(200, START);
                try (Generation second = Generation.start(work, new ProcessBuilder(javaLine).directory(app.toFile()), 2)) {
                    assertEquals(0, first.child().awaitExit(START), "the old generation drains and exits");
                    load.awaitMoreRequests(200, START);
                    load.close(); // before the new generation stops
                    assertEquals(0, load.failures(), "no request failed: " + load.failureSamples());
                    long firstPid = first.child().pid();
                    long secondPid = second.child().pid();
                    assertEquals(Set.of(firstPid, secondPid), load.pids(), "both generations answered");
                    assertTrue(load.pidsPerConnection().values().stream()
                                    .anyMatch(pids -> pids.contains(firstPid) && pids.contains(secondPid)),
                            "a keep-alive connection moved: " + load.pidsPerConnection());
                    assertEquals(200, status(first.port(), "/actuator/handoff"), "the endpoint the README exposes");
                    assertTrue(get(first.port(), "/").contains("\"pid\":" + secondPid));
                }
            } finally {
                load.close();
            }
        }
    }

    /**
     * The README's spring-boot-maven-plugin entry: {@code mvn spring-boot:run} gives the application the JVM
     * flags (without them it would stop with the failure report instead).
     */
    @Test
    void theReadmesSpringBootRunArgumentsGiveTheJvmWhatItNeeds() throws Exception {
        ProcessBuilder run = maven("mvn spring-boot:run");
        run.command().add("-Dspring-boot.run.arguments=--server.port=0 --handoff.socket="
                + sockets.resolve("run-plugin").resolve("handoff.sock"));
        try (Generation plugin = Generation.start(work, run, 1)) {
            assertTrue(get(plugin.port(), "/").contains("\"pid\":"));
        }
    }

    private List<String> runBlock() {
        return readme.block("run").lines().toList();
    }

    /** A Maven command line of the README's, run by this build's Maven with a repository of the test's own. */
    private ProcessBuilder maven(String line) {
        List<String> command = new ArrayList<>(Arrays.asList(line.trim().split("\\s+")));
        assertEquals("mvn", command.get(0), line);
        command.set(0, Path.of(System.getProperty("quickstart.mavenHome"), "bin", "mvn").toString());
        command.addAll(1, List.of("-B", "-s", settings.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).directory(app.toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return builder;
    }

    /** The README's java line with this JVM, a socket under the test's directory, and a port from the kernel. */
    private static List<String> javaCommand(String line, Path socket) {
        List<String> command = new ArrayList<>();
        for (String word : line.trim().split("\\s+")) {
            if (word.equals("java")) {
                command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            } else if (word.startsWith("--handoff.socket=")) {
                command.add("--handoff.socket=" + socket);
            } else {
                command.add(word);
            }
        }
        assertFalse(command.stream().anyMatch(word -> word.startsWith("--add-opens") || word.startsWith("-XX")),
                "no JVM flag typed: " + command);
        command.add("--server.port=0");
        return command;
    }

    private static int status(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static String get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /**
     * One generation of the fresh application: READY as {@code generation}, on the port Tomcat reported; its
     * output is kept in {@code generation-N.log} under the work directory.
     */
    private record Generation(JavaChild child, int port, List<String> output, Path log) implements AutoCloseable {

        static Generation start(Path work, ProcessBuilder command, int generation) throws Exception {
            Path log = work.resolve("generation-" + generation + "-" + System.nanoTime() + ".log");
            List<String> output = new CopyOnWriteArrayList<>();
            CompletableFuture<Integer> port = new CompletableFuture<>();
            CompletableFuture<String> ready = new CompletableFuture<>();
            JavaChild child = JavaChild.start(command.redirectErrorStream(true), line -> {
                output.add(line);
                Matcher matcher = TOMCAT_PORT.matcher(line);
                if (matcher.find()) {
                    port.complete(Integer.parseInt(matcher.group(1)));
                }
                if (line.contains("READY generation " + generation)) {
                    ready.complete(line);
                }
            });
            try {
                ready.get(START.toSeconds(), TimeUnit.SECONDS);
                return new Generation(child, port.get(START.toSeconds(), TimeUnit.SECONDS), output, log);
            } catch (Exception | AssertionError e) {
                child.close();
                throw new AssertionError("generation " + generation + " did not say READY:\n" + String.join("\n", output), e);
            }
        }

        /** Stops it, and whatever it started (Maven's spring-boot:run forks the application's JVM). */
        @Override
        public void close() throws IOException {
            List<ProcessHandle> descendants = child.process().descendants().toList();
            child.close();
            descendants.forEach(ProcessHandle::destroyForcibly);
            Files.write(log, output);
        }
    }

    /** The README's marked code blocks ({@code <!-- quickstart:NAME -->} right above a fenced block). */
    record ReadmeSnippets(String text) {

        static ReadmeSnippets read(Path readme) throws IOException {
            return new ReadmeSnippets(Files.readString(readme, StandardCharsets.UTF_8));
        }

        String block(String name) {
            String marker = "<!-- quickstart:" + name + " -->\n```";
            int at = text.indexOf(marker);
            assertTrue(at >= 0, "the README marks a block " + name);
            int start = text.indexOf('\n', at + marker.length()) + 1;
            int end = text.indexOf("\n```", start);
            return text.substring(start, end + 1);
        }
    }
}
