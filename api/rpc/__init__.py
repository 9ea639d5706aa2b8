"""The RPC request pipeline: auth → parse → plan → transaction → respond."""
