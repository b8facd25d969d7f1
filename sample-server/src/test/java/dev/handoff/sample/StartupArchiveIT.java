package dev.handoff.sample;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.Main;
import dev.handoff.harness.ServerProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The harness's {@code train} on the sample jar with this JDK (an AOT cache on JDK 25, a class-data
 * archive on 17): the JVM loads the server's classes from the archive it wrote; the supervisor and the demo
 * start generations with it, and the supervisor without it, saying why, once the jar has changed.
 */
class StartupArchiveIT {

    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path temp;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aTrainedArchiveIsWhereTheServersClassesLoadFromUntilTheJarChanges() throws Exception {
        Path jar = Files.copy(Path.of("target", "sample-server.jar"), temp.resolve("sample-server.jar"));
        Path archive = temp.resolve("sample.archive");
        int http = ServerProcesses.freePort();
        List<String> server = serverCommand(jar, List.of(), http, "train");
        List<String> train = new ArrayList<>(List.of("train", "--archive", archive.toString(), "--http", "127.0.0.1:" + http,
                "--requests", "5000", "--"));
        train.addAll(server);
        try (JavaChild trainer = JavaChild.start(Main.class, train.toArray(new String[0]))) {
            String wrote = trainer.awaitLine(WAIT, "TRAIN wrote ", "TRAIN failed");
            assertTrue(wrote.startsWith("TRAIN wrote " + archive + " "), wrote);
            assertEquals(0, trainer.awaitExit(WAIT));
        }
        assertTrue(Files.size(archive) > 1_000_000, "an archive of the server's classes");

        // The JVM itself, told to use it, loads the server's classes from it.
        String use = (Runtime.version().feature() >= 25 ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=") + archive;
        CompletableFuture<String> loaded = new CompletableFuture<>();
        try (JavaChild direct = JavaChild.start(new ProcessBuilder(serverCommand(jar, List.of(use, "-Xlog:class+load=info"),
                ServerProcesses.freePort(), "direct")), line -> {
                    if (line.contains(" dev.handoff.sample.SampleServer source: ")) {
                        loaded.complete(line);
                    }
                })) {
            String source = loaded.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            // "shared objects file", and "(top)" after it for a dynamic archive on top of the JDK's own
            assertTrue(source.contains("dev.handoff.sample.SampleServer source: shared objects file"), source);
        }

        assertEquals("SUPERVISOR starts with the start-up archive " + archive,
                supervisedFirstLine(archive, serverCommand(jar, List.of(), ServerProcesses.freePort(), "fits")));
        // The demo (the README's main job) starts its generations with it too.
        try (JavaChild demo = JavaChild.start(Main.class, "demo", "1", "--server-jar", jar.toString(), "--archive", archive.toString())) {
            try {
                assertEquals("  start-up archive: " + archive, demo.awaitLine("  start-up archive", WAIT));
                assertEquals("RESULT: zero downtime", demo.awaitLine("RESULT:", WAIT));
                assertEquals(0, demo.awaitExit(WAIT));
            } finally {
                demo.process().descendants().forEach(ProcessHandle::destroyForcibly);
            }
        }
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 60_000));
        String stale = supervisedFirstLine(archive, serverCommand(jar, List.of(), ServerProcesses.freePort(), "stale"));
        assertTrue(stale.startsWith("SUPERVISOR starting without the start-up archive " + archive
                + ": it was trained for class-path.0 " + jar), stale);
    }

    /** What the supervisor says about the archive; then the server it started must serve all the same. */
    private String supervisedFirstLine(Path archive, List<String> server) throws Exception {
        List<String> args = new ArrayList<>(List.of("supervise", "--archive", archive.toString(), "--"));
        args.addAll(server);
        try (JavaChild supervisor = JavaChild.start(Main.class, args.toArray(new String[0]))) {
            try {
                String said = supervisor.awaitLine(WAIT, "SUPERVISOR starts with", "SUPERVISOR starting without");
                assertTrue(supervisor.awaitLine("READY pid=", WAIT).endsWith(" generation=1"));
                ServerProcesses.signal(supervisor.pid(), "TERM");
                assertEquals(0, supervisor.awaitExit(WAIT));
                return said;
            } finally {
                supervisor.process().descendants().forEach(ProcessHandle::destroyForcibly);
            }
        }
    }

    private List<String> serverCommand(Path jar, List<String> jvmFlags, int http, String name) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags);
        command.addAll(List.of("-jar", jar.toString(), "--http", "127.0.0.1:" + http,
                "--echo", "127.0.0.1:" + ServerProcesses.freePort(), "--socket", temp.resolve("run-" + name).resolve("s.sock").toString()));
        return command;
    }
}
