package io.sluice.store.postgres;

import static io.sluice.store.Stored.message;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.domain.SluiceException;
import io.sluice.store.Appended;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.DeliveryCounts;
import io.sluice.store.GroupConfig;
import io.sluice.store.GroupMode;
import io.sluice.store.GroupRequest;
import io.sluice.store.GroupSetup;
import io.sluice.store.LeaseBatch;
import io.sluice.store.NewMessage;
import io.sluice.store.Outcome;
import io.sluice.store.StartPosition;
import io.sluice.store.Store;
import io.sluice.store.StoreOptions;
import io.sluice.store.TopicConfig;
import io.sluice.store.WhenFull;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the PostgreSQL backend keeps across a restart beyond the contract suite's reach: a topic's
 * configuration, an exclusive group's configuration and delivery counts. Dedup, expectations, replay by
 * time, group configuration, dead letters and retention are in {@code StoreContract}.
 */
class PostgresPortTest {
    @RegisterExtension
    final OpenedStores stores = new OpenedStores();
    private final AtomicLong clock = new AtomicLong(1_000_000);

    private Store open(String schema) {
        return stores.open(PostgresServer.shared(), schema, StoreOptions.defaults().withClock(clock::get).withDedupWindow(60_000));
    }

    private static Outcome<List<Appended>> append(Store store, String topic, OptionalLong expected,
                                                  NewMessage... messages) {
        var out = new Outcome<List<Appended>>();
        store.append(topic, List.of(messages), expected, WhenFull.WAIT, out);
        out.await(Outcome.WAIT);
        return out;
    }

    @Test
    void topicConfigurationIsKeptAcrossARestart() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        Store store = open(schema);
        var configured = new Outcome<ConfiguredTopic>();
        var config = new TopicConfig(60_000, 1_000_000, 10, TopicConfig.Discard.NEW, 5_000);
        store.configureTopic("t", config, configured);
        assertTrue(configured.value().created());
        store.close();
        assertEquals(config, open(schema).stats(List.of("t")).getFirst().config());
    }

    @Test
    void exclusiveGroupsKeepTheirConfigurationAndCountsAcrossARestart() throws Exception {
        String schema = PostgresServer.shared().freshSchema();
        Store store = open(schema);
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            seqs.add(append(store, "t", OptionalLong.empty(), message("m" + i)).value().getFirst().sequence());
        }
        var config = new GroupConfig(0, 0, "", 0, List.of(10L, 20L));
        var opened = new Outcome<GroupSetup>();
        store.openGroup(new GroupRequest("t", "g", GroupMode.EXCLUSIVE, config, StartPosition.earliest(), false),
                opened);
        assertTrue(opened.value().created());
        var counted = new Outcome<DeliveryCounts>();
        store.countDeliveries("t", "g", seqs, counted);
        assertArrayEquals(new int[] {1, 1, 1, 1}, counted.value().counts());
        var again = new Outcome<DeliveryCounts>();
        store.countDeliveries("t", "g", seqs.subList(1, 4), again);
        assertArrayEquals(new int[] {2, 2, 2}, again.value().counts());
        var acked = new Outcome<Boolean>();
        store.ack("t", "g", seqs.get(1), acked);
        assertTrue(acked.value());
        store.close();

        Store reopened = open(schema);
        var reopenedGroup = new Outcome<GroupSetup>();
        reopened.openGroup(new GroupRequest("t", "g", GroupMode.EXCLUSIVE, GroupConfig.DEFAULTS,
                StartPosition.latest(), false), reopenedGroup);
        assertFalse(reopenedGroup.value().created());
        assertEquals(config, reopenedGroup.value().config(), "the configuration survives the restart");
        assertEquals(seqs.get(1), reopenedGroup.value().position().cursor());
        var third = new Outcome<DeliveryCounts>();
        reopened.countDeliveries("t", "g", seqs.subList(2, 4), third);
        assertArrayEquals(new int[] {3, 3}, third.value().counts(), "exact across the restart");
    }
}
