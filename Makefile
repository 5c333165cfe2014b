# The Makefile only wraps Maven (through the pinned wrapper) with a JDK 21+ it finds by itself.
SHELL := /bin/sh
JAVA_HOME := $(shell scripts/find-jdk)
ifeq ($(JAVA_HOME),)
$(error no JDK 21 or newer found: set JAVA_HOME to one, or install one under /usr/lib/jvm)
endif
export JAVA_HOME
# The JVM options Sluice runs with (the collector and its young generation, trimming the C heap; on
# JDK 23+ no Unsafe warning): see scripts/jvm-opts.
JAVA_RUN_OPTS := $(shell scripts/jvm-opts $(JAVA_HOME)/bin/java)
MVN := ./mvnw -B -ntp
JAR := target/sluice.jar
# The JDK's ahead-of-time cache (JDK 25+), trained by scripts/aot-train: the broker then starts
# with its classes already loaded and linked. Absent on older JDKs, where the broker starts without.
AOT := target/sluice.aot
AOT_OPTS = $(if $(wildcard $(AOT)),-XX:AOTCache=$(AOT))
# The command line's own cache, trained in the same run against the same broker (bin/sluice uses it).
CLI_AOT := target/sluice-cli.aot
# What bin/sluice starts java with (the JDK found here and both sets of JVM options): written once per
# build so that a CLI call does not start several JVMs to find them again.
LAUNCH_ENV := target/launch.env
# How the broker's JVM starts, for make run and for the brokers make bench starts: the same either way.
BROKER_JVM_OPTS = $(JAVA_RUN_OPTS) $(AOT_OPTS)
ARGS ?=
# make bench BENCH_ARGS="--quick" (see docs/bench.md); BENCH_JVM is for the load generator's own JVM
# (ZGC: its pauses stay far under a millisecond, where G1's would count as the broker's latency).
BENCH_ARGS ?=
BENCH_JVM ?= -Xms1g -Xmx1g -XX:+UseZGC
BENCH_CP := target/bench-classpath.txt

.PHONY: run run-postgres test jar aot bench soak clean

run: $(JAR) $(AOT) $(LAUNCH_ENV)
	$(JAVA_HOME)/bin/java $(BROKER_JVM_OPTS) -jar $(JAR) serve $(ARGS)

# A throwaway PostgreSQL in a temporary directory (the installed package's binaries) and a broker on
# it; both stop, and the directory goes, when the broker stops (Ctrl-C). See docs/postgres.md.
run-postgres: $(JAR) $(AOT) $(LAUNCH_ENV)
	scripts/run-postgres $(JAVA_HOME)/bin/java $(BROKER_JVM_OPTS) -jar $(JAR) serve $(ARGS)

aot: $(AOT)

$(AOT): $(JAR) scripts/aot-train scripts/jvm-opts
	scripts/aot-train $(JAVA_HOME)/bin/java $(JAR) $(AOT) $(CLI_AOT)

$(LAUNCH_ENV): $(JAR) scripts/launch-env scripts/find-jdk scripts/jvm-opts
	JAVA_HOME=$(JAVA_HOME) scripts/launch-env > $@

test:
	$(MVN) verify

# The fault suite scaled up (200 SIGKILL cycles, 10,000 fuzzed streams, ...); ends with a table of figures.
soak:
	$(MVN) verify -Psoak

jar: $(JAR) $(LAUNCH_ENV)

$(JAR): pom.xml $(shell find proto src/main -type f 2>/dev/null)
	$(MVN) -DskipTests package

# The load generator compiles with the tests (src/bench/java) and runs on the test classpath, never
# from the shipped jar; it starts brokers from $(JAR) with the same JDK and JVM flags as make run.
bench: $(JAR) $(AOT) $(BENCH_CP)
	$(JAVA_HOME)/bin/java $(BENCH_JVM) -cp target/test-classes:target/classes:$$(cat $(BENCH_CP)) \
		io.sluice.bench.Bench --jar $(JAR) --java $(JAVA_HOME)/bin/java \
		$(foreach o,$(BROKER_JVM_OPTS),--broker-jvm-arg=$(o)) $(BENCH_ARGS)

$(BENCH_CP): pom.xml $(JAR) $(shell find src/bench src/test -type f 2>/dev/null)
	$(MVN) -q -DskipTests test-compile dependency:build-classpath -Dmdep.includeScope=test \
		-Dmdep.outputFile=$(BENCH_CP)

clean:
	$(MVN) clean
