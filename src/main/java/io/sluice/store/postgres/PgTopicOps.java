package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.TopicConfig;
import java.sql.SQLException;

/** Topic configuration writes. Retention limits are refused: this backend does not remove messages yet. */
final class PgTopicOps {
    private PgTopicOps() {
    }

    /** Refusal of a retention limit this backend cannot keep yet, naming it. */
    static SluiceException noRetention(String limit) {
        return new SluiceException.FailedPrecondition("retention limit " + limit
                + " is not available on the PostgreSQL backend yet (topics keep every message)");
    }

    /** Creates a topic with a configuration, or replaces an existing topic's. */
    static final class Configure extends PgWriteOp<ConfiguredTopic> {
        private final String topic;
        private final TopicConfig config;

        Configure(String topic, TopicConfig config, Completion<ConfiguredTopic> done) {
            super(done);
            this.topic = topic;
            this.config = config;
        }

        @Override
        ConfiguredTopic apply(PgWriteTx tx) throws SQLException {
            String limit = PgTopics.unsupported(config);
            if (limit != null) {
                return refuse(noRetention(limit));
            }
            boolean created = tx.find(topic) == null;
            var row = tx.findOrCreate(topic);
            tx.topicConfigs.configure(row.id, config);
            return new ConfiguredTopic(config, created);
        }
    }
}
