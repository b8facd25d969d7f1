package dev.handoff.sample.spring;

import dev.handoff.core.Handoff;
import dev.handoff.spring.HandoffReadyEvent;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The sample server's HTTP contract as an ordinary Spring Boot application (Tomcat): {@code GET /} and
 * {@code GET /slow?ms=N} answer this process's pid and generation. The starter does the rest: started
 * again with the same arguments, the new copy takes the port over and this one drains and exits.
 *
 * <pre>java -jar sample-server/target/sample-server-spring.jar --server.port=8081 --handoff.socket=/tmp/handoff-sample/spring.sock</pre>
 */
@SpringBootApplication
public class SpringSampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SpringSampleApplication.class, args);
    }

    @Bean
    ApplicationListener<HandoffReadyEvent> printReady() {
        return event -> System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation="
                + event.getHandoff().generation());
    }

    @RestController
    static class Answers {

        private final Handoff handoff;

        Answers(Handoff handoff) {
            this.handoff = handoff;
        }

        @GetMapping("/")
        Map<String, Object> root() {
            return Map.of("pid", ProcessHandle.current().pid(), "generation", handoff.generation());
        }

        /** Answered on a request thread that sleeps, as a slow backend call would keep it. */
        @GetMapping("/slow")
        Callable<Map<String, Object>> slow(@RequestParam(name = "ms", defaultValue = "100") long ms) {
            return () -> {
                Thread.sleep(Math.min(ms, 60_000));
                return Map.of("pid", ProcessHandle.current().pid(), "generation", handoff.generation(), "sleptMs", ms);
            };
        }
    }
}
