from rewardkit.cli.main import main

main()
