/**
 * The research draft's table (sections 1-4 and 6 of the design's research document, which is
 * not in this repository), as written, in a schema of its own: the reference of the RLS
 * benchmark.
 *
 * Run with `search_path = draft, public`, so unqualified names create objects in `draft` while
 * `agents`, `account_tool_instances`, `user_roles` and `auth.uid()` resolve to the project's
 * (as they would in a database where the draft was applied).
 *
 * Changed only where the draft does not run at all:
 * - `UNIQUE(agent_id, mcp_server_instance_id, is_active) WHERE is_active = true` inside
 *   CREATE TABLE is a syntax error: it becomes the partial unique index it means;
 * - `CREATE EXTENSION "uuid-ossp"` is left out (nothing uses it; gen_random_uuid() is core).
 * Everything the benchmark measures is verbatim: the columns, the eight indexes, the per-row
 * `auth.uid()`, the `agent_id IN (SELECT ...)` owner policies and the separate admin
 * `EXISTS` policy. The draft's helper views are left out (the benchmark does not read them).
 *
 * The data is copied in between the table and its indexes (`DRAFT_TABLE`, then the copy, then
 * `DRAFT_INDEXES_AND_POLICIES`): the same result as the draft's order, built faster.
 */

export const DRAFT_TABLE = `
CREATE SCHEMA draft;
GRANT USAGE ON SCHEMA draft TO authenticated, service_role;

CREATE TABLE agent_mcp_connections (
    -- Primary key
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),

    -- Foreign key relationships
    agent_id UUID NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    mcp_server_instance_id UUID NOT NULL REFERENCES account_tool_instances(id) ON DELETE CASCADE,

    -- Connection configuration
    connection_config JSONB DEFAULT '{}',
    connection_test_result JSONB,

    -- Connection state
    is_active BOOLEAN NOT NULL DEFAULT true,
    connection_status TEXT DEFAULT 'disconnected' CHECK (connection_status IN ('connected', 'disconnected', 'error', 'testing')),

    -- Usage tracking
    last_used TIMESTAMPTZ,
    usage_stats JSONB DEFAULT '{}',

    -- Audit fields
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by UUID REFERENCES auth.users(id)

    -- Constraints (not valid SQL inside CREATE TABLE; the partial unique index below)
    -- UNIQUE(agent_id, mcp_server_instance_id, is_active) WHERE is_active = true
);

GRANT SELECT, INSERT, UPDATE, DELETE ON agent_mcp_connections TO authenticated;
GRANT ALL ON agent_mcp_connections TO service_role;
`;

export const DRAFT_INDEXES_AND_POLICIES = `
CREATE UNIQUE INDEX agent_mcp_connections_agent_server_active_key
    ON agent_mcp_connections (agent_id, mcp_server_instance_id, is_active) WHERE is_active = true;

-- Performance indexes
CREATE INDEX idx_agent_mcp_connections_agent_id ON agent_mcp_connections(agent_id);
CREATE INDEX idx_agent_mcp_connections_server_id ON agent_mcp_connections(mcp_server_instance_id);
CREATE INDEX idx_agent_mcp_connections_active ON agent_mcp_connections(is_active) WHERE is_active = true;
CREATE INDEX idx_agent_mcp_connections_status ON agent_mcp_connections(connection_status);
CREATE INDEX idx_agent_mcp_connections_created_at ON agent_mcp_connections(created_at);
CREATE INDEX idx_agent_mcp_connections_last_used ON agent_mcp_connections(last_used);

-- Composite indexes for common queries
CREATE INDEX idx_agent_mcp_connections_agent_active ON agent_mcp_connections(agent_id, is_active) WHERE is_active = true;
CREATE INDEX idx_agent_mcp_connections_server_active ON agent_mcp_connections(mcp_server_instance_id, is_active) WHERE is_active = true;

-- Function to update the updated_at timestamp
CREATE OR REPLACE FUNCTION update_agent_mcp_connections_updated_at()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Trigger to automatically update updated_at
CREATE TRIGGER trigger_agent_mcp_connections_updated_at
    BEFORE UPDATE ON agent_mcp_connections
    FOR EACH ROW
    EXECUTE FUNCTION update_agent_mcp_connections_updated_at();

-- Enable RLS on the table
ALTER TABLE agent_mcp_connections ENABLE ROW LEVEL SECURITY;

-- Policy: Users can only see connections for their own agents
CREATE POLICY "Users can view their own agent connections" ON agent_mcp_connections
    FOR SELECT
    USING (
        agent_id IN (
            SELECT id FROM agents WHERE user_id = auth.uid()
        )
    );

-- Policy: Users can only insert connections for their own agents
CREATE POLICY "Users can create connections for their own agents" ON agent_mcp_connections
    FOR INSERT
    WITH CHECK (
        agent_id IN (
            SELECT id FROM agents WHERE user_id = auth.uid()
        )
    );

-- Policy: Users can only update connections for their own agents
CREATE POLICY "Users can update their own agent connections" ON agent_mcp_connections
    FOR UPDATE
    USING (
        agent_id IN (
            SELECT id FROM agents WHERE user_id = auth.uid()
        )
    )
    WITH CHECK (
        agent_id IN (
            SELECT id FROM agents WHERE user_id = auth.uid()
        )
    );

-- Policy: Users can only delete connections for their own agents
CREATE POLICY "Users can delete their own agent connections" ON agent_mcp_connections
    FOR DELETE
    USING (
        agent_id IN (
            SELECT id FROM agents WHERE user_id = auth.uid()
        )
    );

-- Admin policy: Admins can view all connections for monitoring
CREATE POLICY "Admins can view all agent connections" ON agent_mcp_connections
    FOR SELECT
    USING (
        EXISTS (
            SELECT 1 FROM user_roles
            WHERE user_id = auth.uid()
            AND role = 'admin'
        )
    );

-- Function to validate connection configuration
CREATE OR REPLACE FUNCTION validate_connection_config(config JSONB)
RETURNS BOOLEAN AS $$
BEGIN
    -- Check required fields and types
    IF config ? 'timeout' AND (config->>'timeout')::INTEGER <= 0 THEN
        RETURN FALSE;
    END IF;

    IF config ? 'retryAttempts' AND (config->>'retryAttempts')::INTEGER < 0 THEN
        RETURN FALSE;
    END IF;

    IF config ? 'maxConcurrentRequests' AND (config->>'maxConcurrentRequests')::INTEGER <= 0 THEN
        RETURN FALSE;
    END IF;

    RETURN TRUE;
END;
$$ LANGUAGE plpgsql;

-- Add check constraint for connection configuration
ALTER TABLE agent_mcp_connections
ADD CONSTRAINT check_valid_connection_config
CHECK (validate_connection_config(connection_config));
`;
