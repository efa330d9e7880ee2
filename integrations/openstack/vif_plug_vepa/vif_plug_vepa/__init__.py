"""os-vif plugin for vepa: plugs a VM's VIF into a vepa switch."""
