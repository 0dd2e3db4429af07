"""Sites: the hospitals where cases are treated, each with its time zone and country, and the people who
belong to them. A case names its site; physicians see the cases of their own sites (edms.workflow.visibility)."""
