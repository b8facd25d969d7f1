package dev.handoff.quickstart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Spring Boot 4.1.0 application as start.spring.io makes it (the starter parent, web MVC, actuator, the
 * Spring Boot Maven plugin), with one controller that says which process answered, and the README's
 * snippets where the README says they go. Its {@code spring-boot-maven-plugin} entry is the README's.
 */
final class FreshApp {

    private FreshApp() {
    }

    static Path write(Path dir, QuickStartIT.ReadmeSnippets readme) throws IOException {
        Path sources = Files.createDirectories(dir.resolve("src/main/java/com/example/myapp"));
        Path resources = Files.createDirectories(dir.resolve("src/main/resources"));
        Files.writeString(dir.resolve("pom.xml"), """
                <?xml version="1.0" encoding="UTF-8"?>
                <project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
                  <modelVersion>4.0.0</modelVersion>
                  <parent>
                    <groupId>org.springframework.boot</groupId>
                    <artifactId>spring-boot-starter-parent</artifactId>
                    <version>4.1.0</version>
                    <relativePath/>
                  </parent>
                  <groupId>com.example</groupId>
                  <artifactId>myapp</artifactId>
                  <version>0.0.1-SNAPSHOT</version>
                  <properties>
                    <java.version>17</java.version>
                  </properties>
                  <dependencies>
                    <dependency>
                      <groupId>org.springframework.boot</groupId>
                      <artifactId>spring-boot-starter-webmvc</artifactId>
                    </dependency>
                    <dependency>
                      <groupId>org.springframework.boot</groupId>
                      <artifactId>spring-boot-starter-actuator</artifactId>
                    </dependency>
                %s
                  </dependencies>
                  <build>
                    <plugins>
                %s
                    </plugins>
                  </build>
                </project>
                """.formatted(readme.block("dependencies"), readme.block("plugins")));
        Files.writeString(sources.resolve("MyApplication.java"), """
                package com.example.myapp;

                import java.util.Map;
                import org.springframework.boot.SpringApplication;
                import org.springframework.boot.autoconfigure.SpringBootApplication;
                import org.springframework.web.bind.annotation.GetMapping;
                import org.springframework.web.bind.annotation.RestController;

                @SpringBootApplication
                @RestController
                public class MyApplication {

                    public static void main(String[] args) {
                        SpringApplication.run(MyApplication.class, args);
                    }

                    @GetMapping("/")
                    Map<String, Long> hello() {
                        return Map.of("pid", ProcessHandle.current().pid());
                    }
                }
                """);
        Files.writeString(resources.resolve("application.properties"), readme.block("properties"));
        return dir;
    }
}
